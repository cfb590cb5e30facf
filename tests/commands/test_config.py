"""`orion config get|set|unset|list` through the CLI, on real files."""

from __future__ import annotations

import json
import tomllib

from ..conftest import invoke as orion, run_orion


def user_file(home):
    return home.parent / "xdg" / "orionis" / "config.toml"


def test_set_then_get(home):
    result = orion("config", "set", "capture.mode", "safe")
    assert result.exit_code == 0, result.output
    assert tomllib.loads(user_file(home).read_text()) == {"capture": {"mode": "safe"}}
    result = orion("config", "get", "capture.mode")
    assert (result.exit_code, result.stdout) == (0, "safe\n")


def test_get_prints_defaults_and_lists_comma_separated(home):
    assert orion("config", "get", "capture.mode").stdout == "dev\n"
    orion("config", "set", "capture.exclude", "tests/*,vendor/*")
    assert orion("config", "get", "capture.exclude").stdout == "tests/*,vendor/*\n"


def test_get_unset_key_without_default_exits_1(home):
    result = orion("config", "get", "service.name")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "not set" in result.stderr


def test_invalid_value_is_refused_with_exit_2(home):
    result = orion("config", "set", "capture.mode", "turbo")
    assert result.exit_code == 2
    assert "capture.mode must be one of dev, safe, error" in result.stderr
    assert not user_file(home).exists()


def test_unknown_key_is_refused_but_x_keys_are_free(home):
    result = orion("config", "set", "capture.turbo", "1")
    assert result.exit_code == 2
    assert "unknown config key 'capture.turbo'" in result.stderr
    assert orion("config", "get", "nope").exit_code == 2
    assert orion("config", "set", "x.team", "payments").exit_code == 0
    assert orion("config", "get", "x.team").stdout == "payments\n"


def test_project_scope_overrides_user(home):
    (home / ".orion").mkdir()
    orion("config", "set", "capture.mode", "safe")
    result = orion("config", "set", "--project", "capture.mode", "error")
    assert result.exit_code == 0, result.output
    assert (home / ".orion" / "config.toml").is_file()
    assert orion("config", "get", "capture.mode").stdout == "error\n"


def test_project_scope_without_orion_dir_refuses(home):
    result = orion("config", "set", "--project", "capture.mode", "safe")
    assert result.exit_code == 2
    assert "orion init" in result.stderr and ".orion/" in result.stderr


def test_unset(home):
    orion("config", "set", "capture.mode", "safe")
    result = orion("config", "unset", "capture.mode")
    assert result.exit_code == 0
    assert orion("config", "get", "capture.mode").stdout == "dev\n"
    result = orion("config", "unset", "capture.mode")
    assert result.exit_code == 1
    assert "not set" in result.stderr


def test_unset_points_at_the_file_that_sets_it(home):
    (home / ".orion").mkdir()
    orion("config", "set", "--project", "capture.mode", "safe")
    result = orion("config", "unset", "capture.mode")
    assert result.exit_code == 1
    assert "set in the project config" in result.stderr
    assert orion("config", "unset", "--project", "capture.mode").exit_code == 0


def test_list_shows_value_and_source(home):
    (home / ".orion").mkdir()
    orion("config", "set", "service.name", "shop")
    orion("config", "set", "--project", "capture.sample_rate", "0.5")
    result = orion("config", "list")
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "default" in lines["capture.mode"]
    assert "shop" in lines["service.name"] and "user (" in lines["service.name"]
    assert "0.5" in lines["capture.sample_rate"] and "project (" in lines["capture.sample_rate"]


def test_list_json(home):
    orion("config", "set", "capture.include", "src/*")
    orion("config", "set", "x.note", "hello")
    result = orion("config", "list", "--json")
    rows = {row["key"]: row for row in json.loads(result.stdout)}
    assert rows["capture.include"] == {
        "key": "capture.include", "value": ["src/*"], "source": "user",
        "path": str(user_file(home)), "help": rows["capture.include"]["help"]}
    assert rows["capture.mode"]["source"] == "default" and rows["capture.mode"]["path"] is None
    assert rows["x.note"]["value"] == "hello" and rows["x.note"]["help"] is None


def test_broken_file_is_one_line_error(home):
    path = user_file(home)
    path.parent.mkdir(parents=True)
    path.write_text("capture = [\n")
    result = orion("config", "list")
    assert result.exit_code == 2
    assert "not valid TOML" in result.stderr and "Traceback" not in result.output


def test_real_process_exit_codes(home, tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert run_orion("config", "set", "capture.mode", "safe", env=env).returncode == 0
    got = run_orion("config", "get", "capture.mode", env=env)
    assert (got.returncode, got.stdout) == (0, "safe\n")
    assert run_orion("config", "get", "service.name", env=env).returncode == 1
    assert run_orion("config", "set", "capture.mode", "x", env=env).returncode == 2
