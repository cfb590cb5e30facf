"""The environment snapshot and the header: the variables recorded, the command, the
distributions the program imported (the library under test among them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orion.model import load_trace

from .agent_helpers import clean_env, traces

PROGRAM = "import click\nprint(click.__name__)\n"


@pytest.mark.parametrize("mode", ["dev", "safe"])
def test_distributions_the_program_imported_are_in_the_trace(tmp_path, mode):
    """A dev/safe trace begins before the program imports anything: the versions are
    taken when it ends, and `orion show` shows them."""
    (tmp_path / "app.py").write_text(PROGRAM)
    spool = tmp_path / "spool"
    done = subprocess.run([sys.executable, "-m", "orion", "run", "--mode", mode, "--spool",
                           str(spool), "--", sys.executable, "app.py"], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (path,) = traces(spool)
    trace = load_trace(path)
    assert "click" in trace.summary["distributions"]
    assert "click" in trace.env["distributions"]
    shown = subprocess.run([sys.executable, "-m", "orion", "show", str(path), "--json"],
                           capture_output=True, text=True, timeout=60)
    assert "click" in json.loads(shown.stdout)["summary"]["distributions"]


def orion_run(cwd, spool, *command: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orion", "run", "--mode", "dev", "--spool",
                           str(spool), "--", *command], cwd=cwd, env=clean_env(**env),
                          capture_output=True, text=True, timeout=60)


def test_the_snapshot_records_the_selected_variables_and_counts_the_rest(tmp_path):
    """Not every variable (spec 4.1): the runtime's, locale, CI, build and Orionis ones,
    those `capture.env` allows; the others are counted. No `git` key outside a git tree."""
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / ".orion").mkdir()
    (tmp_path / ".orion" / "config.toml").write_text('[capture]\nenv = ["MY_*"]\n')
    spool = tmp_path / "spool"
    done = orion_run(tmp_path, spool, sys.executable, "app.py", MY_SETTING="on",
                     UNRELATED_THING="left out", LC_ALL="C.UTF-8", CI="true",
                     PYTHONHASHSEED="7")
    assert done.returncode == 0, done.stderr
    (path,) = traces(spool)
    env = load_trace(path).env
    variables = env["vars"]
    assert variables["MY_SETTING"] == "on" and variables["LC_ALL"] == "C.UTF-8"
    assert variables["CI"] == "true" and variables["PYTHONHASHSEED"] == "7"
    assert variables["ORION_ENV_ALLOW"] == "MY_*"
    assert "UNRELATED_THING" not in variables and "HOME" not in variables
    assert env["vars_omitted"] >= 2
    assert "git" not in env
    shown = subprocess.run([sys.executable, "-m", "orion", "show", str(path)],
                           capture_output=True, text=True, timeout=60).stdout
    assert "UNRELATED_THING" not in shown and "git" not in shown and "vars_omitted" in shown


@pytest.mark.parametrize("command", [["-m", "pytest", "-q", "-p", "no:cacheprovider",
                                      "test_one.py"],
                                     ["-c", "import sys; print(sys.argv)", "one"]])
def test_the_command_is_recorded_as_typed(tmp_path, command):
    """`-m module` and `-c` stay in the header's command (sys.argv drops them)."""
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    spool = tmp_path / "spool"
    done = orion_run(tmp_path, spool, sys.executable, *command)
    assert done.returncode == 0, done.stderr
    (path,) = [p for p in traces(spool)]
    trace = load_trace(path)
    assert trace.header["process"]["argv"] == [sys.executable, *command]
    assert trace.summary["command"] == [sys.executable, *command]


def test_the_library_under_test_is_among_the_distributions(tmp_path):
    """A package imported from the project directory, installed or not, is listed."""
    (tmp_path / "mylib").mkdir()
    (tmp_path / "mylib" / "__init__.py").write_text("__version__ = '1.2.3'\n")
    (tmp_path / "plainlib").mkdir()
    (tmp_path / "plainlib" / "__init__.py").write_text("")
    (tmp_path / "test_lib.py").write_text("import mylib, plainlib\n"
                                         "def test_it():\n    assert mylib.__version__\n")
    spool = tmp_path / "spool"
    done = orion_run(tmp_path, spool, sys.executable, "-m", "pytest", "-q", "-p",
                     "no:cacheprovider", "test_lib.py")
    assert done.returncode == 0, done.stderr
    (path,) = traces(spool)
    distributions = load_trace(path).summary["distributions"]
    assert distributions["mylib"] == "1.2.3" and distributions["plainlib"] == "in-tree"
    assert "pytest" in distributions
    assert not any(name.startswith("test") for name in distributions)


def test_an_editable_install_is_named_by_its_distribution(tmp_path):
    """An editable install whose metadata lists only its .pth file (hatchling's, flit's):
    found through direct_url.json, under its distribution's name and version."""
    project = tmp_path / "project"
    (project / "src" / "fakelib").mkdir(parents=True)
    (project / "src" / "fakelib" / "__init__.py").write_text("")
    (project / "app.py").write_text("import fakelib\n")
    info = tmp_path / "site" / "fake_lib-2.5.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-lib\nVersion: 2.5\n")
    (info / "RECORD").write_text("_fake_lib.pth,,\nfake_lib-2.5.dist-info/METADATA,,\n")
    (info / "direct_url.json").write_text(json.dumps(
        {"url": project.as_uri(), "dir_info": {"editable": True}}))
    spool = tmp_path / "spool"
    done = orion_run(project, spool, sys.executable, "app.py",
                     PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), str(project / "src")]))
    assert done.returncode == 0, done.stderr
    (path,) = traces(spool)
    distributions = load_trace(path).summary["distributions"]
    assert distributions.get("fake-lib") == "2.5" and "fakelib" not in distributions


def test_the_platform_is_named_as_the_platform_module_names_it():
    """The quick form (no `uname -p` subprocess, no scan of the interpreter's binary)
    gives the same string as platform.platform()."""
    import platform

    from orion.agent.envsnap import platform_name

    assert platform_name() == platform.platform()
