"""What `orion run` loads before it starts the user's command: its fixed cost is paid by
every command run under it, so heavy modules it does not need must stay out (not a timed
test: the import list is what a regression would change)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

# Modules `orion run -- true` has no use for: trace reading and compression (no trace is
# written), config parsing (no config file), ctypes (nothing native to check), the web view,
# exports, schema validation; digests and JSON (no agent to build, no settings to write);
# click (orion.entry parses a plain `orion run` itself), dataclasses and datetime.
NOT_NEEDED = ("zstandard", "msgpack", "tomllib", "ctypes", "jsonschema", "http.server",
              "hashlib", "json", "click", "dataclasses", "inspect", "datetime",
              "email", "orion.format.reader", "orion.format.writer", "orion.serve",
              "orion.export", "orion.analysis")


def imported_by(args: list[str], tmp_path) -> set[str]:
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               ORION_SPOOL=str(tmp_path / "spool"))
    env.pop("ORION_MODE", None)
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "orion", *args],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def test_orion_run_loads_nothing_it_does_not_need(tmp_path):
    modules = imported_by(["run", "--", "true"], tmp_path)
    assert "orion.running" in modules  # the probe sees orion's own imports
    loaded = sorted(m for m in modules for heavy in NOT_NEEDED
                    if m == heavy or m.startswith(heavy + "."))
    assert loaded == []


# What `orion run`'s own process must not import to start a command and name the trace
# it wrote (measured with `python -S`, so that no site .pth file or editable-install
# finder has imported them first): together they were two thirds of its start-up. The
# command is forked and exec'd (no subprocess, no signal enums), the trace is named from
# the agent's report (no trace reading: no msgpack), paths are str (no pathlib), regular
# expressions are compiled when first used (none are, on this path: no re, no enum).
NOT_NEEDED_BY_RUN = ("pathlib", "subprocess", "shutil", "tempfile", "signal", "msgpack",
                     "zstandard", "orion.format", "orion.spool", "typing", "click", "re",
                     "enum")
RUN_PARENT = """
import sys
sys.path[:0] = sys.argv[1:2]  # orion's own directory
before = set(sys.modules)
import orion.entry, orion.running
sys.argv = ["orion", "run", "--", *sys.argv[2:]]
status = orion.entry._run(orion.entry.parse_run(sys.argv[2:]))
"""


def test_orion_run_starts_a_command_and_names_its_trace_with_few_imports(tmp_path):
    import orion

    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               ORION_SPOOL=str(tmp_path / "spool"))
    env.pop("ORION_MODE", None)
    probe = [sys.executable, "-S", "-X", "importtime", "-c", RUN_PARENT,
             os.path.dirname(os.path.dirname(orion.__file__)), sys.executable, "-c", "pass"]
    run = subprocess.run(probe, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"orion: trace [0-9a-f]{32} ok", run.stderr)  # a trace was named
    lines = run.stderr.split("orion: trace")[0].splitlines()  # the child's own imports after
    modules = {line.rsplit("|", 1)[1].strip() for line in lines
               if line.startswith("import time:") and "|" in line}
    assert "orion.running" in modules
    loaded = sorted(m for m in modules for heavy in NOT_NEEDED_BY_RUN
                    if m == heavy or m.startswith(heavy + "."))
    assert loaded == []


def test_orion_help_loads_no_command(tmp_path):
    modules = imported_by(["--help"], tmp_path)
    assert not any(m.startswith("orion.commands.") for m in modules)
    assert not any(m in modules for m in ("zstandard", "msgpack", "orion.format.reader"))


# What a traced Python process has no use for at start and exit: the distributions come
# from the cache after the first run, the host name from uname.
# dataclasses pulls in inspect (a third of the agent's start-up once cost).
NOT_NEEDED_BY_THE_AGENT = ("importlib.metadata", "email", "socket", "json", "hashlib",
                           "dataclasses", "inspect", "tomllib", "jsonschema",
                           "orion.format.reader", "orion.analysis")


def test_a_traced_python_process_loads_nothing_it_does_not_need(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), ORION_SPOOL=str(tmp_path / "spool"))
    env.pop("ORION_MODE", None)
    traced = [sys.executable, "-m", "orion", "run", "--mode", "dev", "--",
              sys.executable, "-X", "importtime", "-c", "pass"]
    subprocess.run(traced, cwd=tmp_path, env=env, check=True, capture_output=True)  # cache
    run = subprocess.run(traced, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    modules = {line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    assert "orion.agent.session" in modules  # the agent did start
    loaded = sorted(m for m in modules for heavy in NOT_NEEDED_BY_THE_AGENT
                    if m == heavy or m.startswith(heavy + "."))
    assert loaded == []


# Modules the agent's start and end must not add to a program that does not import them
# itself (measured with `python -S`, so that no site .pth file has imported them first):
# each costs every traced process milliseconds. Compression goes through libzstd
# (orion.format._zstd) and records are packed by orion.format._pack (msgpack would bring
# datetime), paths go through os.path, the redaction checks at start are plain string
# work (no re, no enum), annotations stay strings.
NOT_ADDED_BY_THE_AGENT = ("typing", "pathlib", "zstandard", "platform", "contextlib",
                          "tempfile", "subprocess", "signal", "urllib", "ipaddress", "shutil",
                          "importlib.metadata", "json", "dis", "inspect", "dataclasses",
                          "socket", "selectors", "msgpack", "datetime", "re", "enum")
BOOT_AND_END = """
import sys
sys.path[:0] = sys.argv[1:]  # the boot directory, orion's and its dependencies' own
before = set(sys.modules)
import sitecustomize  # what `orion run` puts first on PYTHONPATH, which boots the agent
import orion.agent
assert orion.agent.current() is not None, "the agent did not start"
assert orion.agent.stop(), "no trace written"
print("\\n".join(sorted(set(sys.modules) - before)))
"""


def test_the_agent_adds_no_heavy_module_to_a_python_process(tmp_path):
    import msgpack

    import orion
    from orion.agent import _BOOT_DIR

    paths = [_BOOT_DIR, *{os.path.dirname(os.path.dirname(module.__file__))
                          for module in (orion, msgpack)}]
    env = dict(os.environ, HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"),
               ORION_SPOOL=str(tmp_path / "spool"), ORION_MODE="dev")
    for _ in range(2):  # the second run finds the distributions in the cache, as usual
        run = subprocess.run([sys.executable, "-S", "-c", BOOT_AND_END, *paths],
                             cwd=tmp_path, env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-2000:]
    added = set(run.stdout.split())
    assert "orion.agent.session" in added and "orion.format._zstd" in added
    heavy = sorted(m for m in added for name in NOT_ADDED_BY_THE_AGENT
                   if m == name or m.startswith(name + "."))
    assert heavy == []
