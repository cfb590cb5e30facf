"""The config library: keys and values, the two files and their merge, the TOML emitter."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orion.agent.values import DEFAULT_SECRETS
from orion.config import (
    KNOWN_KEYS, ConfigError, dumps_toml, format_value, load_config, parse_value,
    resolve_config, set_value, toml_string, unset_value, user_config_path,
)


@pytest.fixture
def project(home):
    (home / ".orion").mkdir()
    return home


def test_defaults_without_any_file(home):
    config = load_config()
    assert config["capture.mode"] == "dev"
    assert config["capture.sample_rate"] is None
    assert "password" in config["redact.names"]
    assert config["service.name"] is None
    assert set(config) == set(KNOWN_KEYS)


def test_default_redaction_is_every_agents_own_default():
    """A config.toml written by `orion init` must not redact less than an agent without it."""
    c_source = (Path(__file__).parents[1] / "agents/c/src/orion.c").read_text()
    c_list = re.search(r"DEFAULT_SECRETS\[\] = \{(.*?)NULL\}", c_source, re.S).group(1)
    assert set(re.findall(r'"([^"]+)"', c_list)) == set(DEFAULT_SECRETS)
    assert load_config()["redact.names"] == list(DEFAULT_SECRETS)


def test_user_file_location_follows_xdg(home, tmp_path):
    assert user_config_path() == tmp_path / "xdg" / "orionis" / "config.toml"


def test_project_overrides_user_which_overrides_defaults(project):
    set_value("capture.mode", "safe")
    set_value("capture.sample_rate", 0.5)
    set_value("capture.mode", "error", scope="project")
    settings_ = resolve_config()
    assert settings_["capture.mode"].value == "error"
    assert settings_["capture.mode"].source == "project"
    assert settings_["capture.mode"].path == project / ".orion" / "config.toml"
    assert settings_["capture.sample_rate"].source == "user"
    assert settings_["redact.names"].source == "default"
    assert load_config()["capture.sample_rate"] == 0.5


def test_project_found_from_a_subdirectory(project):
    set_value("capture.mode", "safe", scope="project")
    deeper = project / "src" / "pkg"
    deeper.mkdir(parents=True)
    assert load_config(cwd=deeper)["capture.mode"] == "safe"


def test_project_scope_without_orion_dir_is_refused(home):
    with pytest.raises(ConfigError, match="orion init"):
        set_value("capture.mode", "safe", scope="project")


def test_written_file_is_plain_toml_tables(home):
    path = set_value("capture.exclude", parse_value("capture.exclude", "tests/*, vendor/* ,"))
    set_value("x.team.owner", "ana")
    assert tomllib.loads(path.read_text()) == {
        "capture": {"exclude": ["tests/*", "vendor/*"]}, "x": {"team": {"owner": "ana"}}}


@pytest.mark.parametrize("key, text, value", [
    ("capture.mode", "safe", "safe"),
    ("capture.sample_rate", "0.25", 0.25),
    ("capture.sample_rate", "1", 1.0),
    ("capture.include", "a,b", ["a", "b"]),
    ("capture.include", "", []),
    ("service.name", "shop", "shop"),
    ("x.anything", "3", "3"),
])
def test_parse_value(key, text, value):
    assert parse_value(key, text) == value


@pytest.mark.parametrize("key, text, message", [
    ("capture.mode", "fast", "one of dev, safe, error"),
    ("capture.sample_rate", "2", "from 0 to 1"),
    ("capture.sample_rate", "nan", "from 0 to 1"),
    ("capture.sample_rate", "half", "a number"),
    ("capture.mode", "fast", "one of dev, safe, error"),
    ("capture.nonsense", "1", "unknown config key"),
    ("mode", "1", "unknown config key"),
    ("capture..mode", "1", "not a config key"),
    ("x.has space", "1", "not a config key"),
])
def test_bad_values_and_keys_are_refused(key, text, message):
    with pytest.raises(ConfigError, match=message):
        parse_value(key, text)


def test_format_value_round_trips_through_parse():
    for key in ("capture.exclude", "capture.mode", "capture.sample_rate", "redact.names"):
        value = {"capture.exclude": ["a", "b c"], "capture.sample_rate": 0.25}.get(
            key, KNOWN_KEYS[key].default)
        assert parse_value(key, format_value(value)) == value


def test_bad_value_in_a_file_names_the_file(home):
    path = user_config_path()
    path.parent.mkdir(parents=True)
    path.write_text('[capture]\nmode = "turbo"\n')
    with pytest.raises(ConfigError, match=f"{path}: capture.mode must be one of"):
        load_config()


def test_broken_toml_names_the_file(home):
    path = user_config_path()
    path.parent.mkdir(parents=True)
    path.write_text("[capture\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config()


def test_unknown_keys_in_a_file_are_kept(home):
    """A file written by a newer orion still loads, and its keys survive a rewrite."""
    path = user_config_path()
    path.parent.mkdir(parents=True)
    path.write_text('[future]\nknob = 3\n')
    assert load_config()["future.knob"] == 3
    set_value("capture.mode", "safe")
    assert tomllib.loads(path.read_text())["future"] == {"knob": 3}


def test_unset_removes_the_key_and_empty_tables(home):
    path = set_value("x.a.b", "1")
    set_value("capture.mode", "safe")
    assert unset_value("x.a.b") is True
    assert tomllib.loads(path.read_text()) == {"capture": {"mode": "safe"}}
    assert unset_value("x.a.b") is False
    assert unset_value("capture.sample_rate") is False


def test_set_refuses_to_mix_values_and_tables(home):
    set_value("x.a", "1")
    with pytest.raises(ConfigError, match="holds a value"):
        set_value("x.a.b", "2")
    set_value("x.c.d", "1")
    with pytest.raises(ConfigError, match="table of settings"):
        set_value("x.c", "3")


# -- the emitter -----------------------------------------------------------------------

def test_string_escapes():
    assert toml_string('a"b\\c\n\t\x00\x7f é') == '"a\\"b\\\\c\\n\\t\\u0000\\u007F é"'


def test_special_floats_and_empty_tables():
    text = dumps_toml({"a": {"inf": math.inf, "neg": -math.inf, "e": {}}, "b": 1e300})
    loaded = tomllib.loads(text)
    assert loaded["a"]["inf"] == math.inf and loaded["a"]["neg"] == -math.inf
    assert loaded["a"]["e"] == {} and loaded["b"] == 1e300
    assert math.isnan(tomllib.loads(dumps_toml({"n": math.nan}))["n"])


def test_unsupported_values_are_refused():
    with pytest.raises(ConfigError, match="cannot write"):
        dumps_toml({"a": [{"b": 1}]})


keys = st.text(max_size=12)
scalars = (st.text(max_size=30) | st.integers(min_value=-2**63, max_value=2**63 - 1)
           | st.floats(allow_nan=False) | st.booleans())
values = scalars | st.lists(st.text(max_size=20), max_size=5) | st.lists(scalars, max_size=4)
tables = st.recursive(st.dictionaries(keys, values, max_size=5),
                      lambda children: st.dictionaries(keys, values | children, max_size=4),
                      max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(tables)
def test_emitter_round_trips_through_tomllib(data):
    assert tomllib.loads(dumps_toml(data)) == data
