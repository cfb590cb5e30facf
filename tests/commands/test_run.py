"""`orion run`: the capture settings come from the option, else the environment, else the
config files (`orion init` writes the project's), else the command's default."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from orion.config import agent_environ
from orion.format.summary import read_summary

from ..agent.agent_helpers import raw_bytes
from ..conftest import run_orion

FAILING = "def check(customword, n):\n    raise ValueError(n)\n\ncheck('SHOULD-REDACT', 3)\n"


def project_config(home, text: str) -> None:
    (home / ".orion").mkdir(exist_ok=True)
    (home / ".orion" / "config.toml").write_text(text)


def test_agent_environ_maps_the_keys_a_file_sets(home):
    assert not any(k.startswith("ORION_") for k in agent_environ({}))  # defaults: nothing
    project_config(home, '[capture]\nmode = "safe"\nsample_rate = 0.5\n'
                         'include = ["shop", "vendor/lib/"]\n[redact]\nnames = []\n'
                         '[service]\nname = "cart"\n')
    environ = agent_environ({"ORION_MODE": "error", "PATH": "/bin"})
    assert environ["ORION_MODE"] == "error"  # the environment wins over the file
    assert environ["ORION_SAMPLE"] == "0.5" and environ["ORION_SERVICE"] == "cart"
    assert environ["ORION_INCLUDE"] == "shop" and environ["ORION_INCLUDE_PATHS"] == "vendor/lib/"
    assert environ["ORION_REDACT"] == ","  # an empty list: redact nothing
    assert environ["PATH"] == "/bin"


def test_project_config_sets_mode_and_redaction(home, spool):
    project_config(home, '[capture]\nmode = "error"\n[redact]\nnames = ["customword"]\n')
    (home / "ok.py").write_text("print('fine')\n")
    (home / "bad.py").write_text(FAILING)
    clean = run_orion("run", "--", sys.executable, "ok.py")
    assert (clean.returncode, clean.stdout) == (0, "fine\n")
    assert "error mode: nothing failed" in clean.stderr and spool.entries() == []

    failed = run_orion("run", "--", sys.executable, "bad.py")
    assert failed.returncode == 1, failed.stderr
    [entry] = spool.entries()
    body = raw_bytes(entry.path)
    assert b"customword" in body and b"SHOULD-REDACT" not in body


def test_environment_then_option_override_the_config(home, spool):
    project_config(home, '[capture]\nmode = "error"\n')
    (home / "ok.py").write_text("print('fine')\n")
    by_env = run_orion("run", "--", sys.executable, "ok.py", env={"ORION_MODE": "dev"})
    assert "ok" in by_env.stderr and len(spool.entries()) == 1
    by_option = run_orion("run", "--mode", "safe", "--", sys.executable, "ok.py",
                          env={"ORION_MODE": "error"})
    assert by_option.returncode == 0 and len(spool.entries()) == 2
    shown = run_orion("show", "@", "--json").stdout
    assert '"mode": "safe"' in shown


SEGFAULT = "import ctypes\n\ndef main():\n    ctypes.string_at(0)\n\nmain()\n"


def listed() -> dict[str, dict]:
    return {t["status"]: t for t in json.loads(run_orion("list", "--json").stdout)}


@pytest.mark.parametrize("subcommand", ["run", "test"])
def test_a_fault_in_c_code_is_a_trace_right_after_the_run(home, spool, subcommand):
    """faulthandler's sidecar becomes a crashed trace when the command exits, not only
    when some later agent starts in the same spool."""
    (home / "app.py").write_text(SEGFAULT)
    result = run_orion(subcommand, "--mode", "error", "--", sys.executable, "app.py")
    assert result.returncode == -signal.SIGSEGV, result.stderr
    assert "nothing failed" not in result.stderr and "no trace written" not in result.stderr
    crashed = listed()["crashed"]
    assert crashed["trace_id"][:12] in result.stderr
    assert crashed["exception"]["type"] == "SIGSEGV" and crashed["exit_code"] == 139
    assert not list(spool.path.glob(".*.fault"))  # converted, not left for the next agent
    shown = json.loads(run_orion("show", crashed["trace_id"], "--json").stdout)
    assert '"signal": 11' in json.dumps(shown)
    assert "string_at" in json.dumps(shown) and "main" in json.dumps(shown)


def test_dev_mode_reports_the_faulted_programs_trace_and_the_crash(home, spool):
    (home / "app.py").write_text(SEGFAULT)
    result = run_orion("run", "--mode", "dev", "--", sys.executable, "app.py")
    assert result.returncode == -signal.SIGSEGV, result.stderr
    traces = listed()
    assert sorted(traces) == ["crashed", "incomplete"]
    assert traces["crashed"]["parent"]["trace_id"] == traces["incomplete"]["trace_id"]
    checked = run_orion("validate", *(trace["trace_id"] for trace in traces.values()))
    assert checked.returncode == 0, checked.stdout + checked.stderr  # the crash's parent too
    for status, trace in traces.items():
        assert f"orion: trace {trace['trace_id']} {status}" in result.stderr


def test_a_command_no_agent_records_says_so(home, spool):
    done = run_orion("run", "--", "sh", "-c", "echo hi")
    assert (done.returncode, done.stdout) == (0, "hi\n")
    assert "no trace written: no agent ran" in done.stderr and spool.entries() == []


def test_outside_their_projects_agents_without_sources_stay_quiet(home, spool, tmp_path):
    """An install without the agents' sources (a wheel has none for Java) says nothing of
    them to a command outside any project of their language; in a Maven project it says
    why Java is not recorded."""
    elsewhere = {"ORION_AGENT_SRC": str(tmp_path / "no-agents")}
    done = run_orion("run", "--", "true", env=elsewhere)
    assert [line.split(":")[1] for line in done.stderr.splitlines()] == [" no trace written"]
    if shutil.which("java") is None:
        pytest.skip("no java on PATH: nothing would load the Java agent")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "pom.xml").write_text("<project/>")
    done = subprocess.run([sys.executable, "-m", "orion", "run", "--", "true"],
                          cwd=tmp_path / "shop", capture_output=True, text=True,
                          env={**os.environ, **elsewhere})
    assert "orion: Java code is not recorded: the Java agent's sources are not in" in done.stderr


# -- signals and exit statuses ---------------------------------------------------------

SIGINT_SELF = ("import os, signal, time\n"
               "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True)\n"
               "os.kill(os.getpid(), signal.SIGINT)\n"
               "time.sleep(2)\n")


def test_the_child_gets_sigint_s_default_disposition(home, spool):
    """A program that raises SIGINT at itself dies of it, as without orion (under the old
    SIG_IGN it was ignored and the program exited 0)."""
    (home / "interrupt.py").write_text(SIGINT_SELF)
    done = run_orion("run", "--", sys.executable, "interrupt.py")
    assert done.stdout == "True\n"
    assert done.returncode == -signal.SIGINT
    plain = subprocess.run([sys.executable, "interrupt.py"], capture_output=True, text=True)
    assert plain.returncode == done.returncode


SLEEPER = ("import sys, time\n"
           "def wait_for_signal():\n"
           "    print('ready', flush=True)\n"
           "    time.sleep(30)\n"
           "wait_for_signal()\n")


def start_sleeper(home, *orion_args: str, **popen) -> subprocess.Popen:
    (home / "sleeper.py").write_text(SLEEPER)
    child = subprocess.Popen([sys.executable, "-m", "orion", "run", *orion_args, "--",
                              sys.executable, "sleeper.py"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, **popen)
    assert child.stdout.readline() == "ready\n"
    return child


def test_ctrl_c_to_the_process_group_ends_child_and_orion_alike(home, spool):
    """What a terminal does on Ctrl-C: SIGINT to the whole foreground group."""
    child = start_sleeper(home, start_new_session=True)
    os.killpg(child.pid, signal.SIGINT)
    _out, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGINT  # ended like the program (KeyboardInterrupt)
    (trace,) = spool.entries()
    assert f"orion: trace {trace.trace_id} failed" in err
    assert "KeyboardInterrupt" in json.dumps(read_summary(trace.path))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1])
def test_a_signal_sent_to_orion_alone_reaches_the_child(home, spool, signum):
    """A CI runner's SIGTERM (or any signal) to `orion run` is passed on; the trace the
    killed program left is named, not "no agent ran"."""
    child = start_sleeper(home)
    child.send_signal(signum)
    _out, err = child.communicate(timeout=60)
    assert child.returncode == -signum
    (trace,) = spool.entries()
    assert f"orion: trace {trace.trace_id}" in err
    assert "no agent ran" not in err


def test_a_killed_program_s_incomplete_trace_is_named(home, spool):
    (home / "killed.py").write_text("import os, signal\n"
                                    "def die():\n    os.kill(os.getpid(), signal.SIGKILL)\n"
                                    "die()\n")
    done = run_orion("run", "--", sys.executable, "killed.py")
    assert done.returncode == -signal.SIGKILL
    traces = spool.entries()
    assert traces and all(f"orion: trace {t.trace_id}" in done.stderr for t in traces)
    assert "no agent ran" not in done.stderr


@pytest.mark.parametrize("content, mode, status, words", [
    (b"\x00\x01 not a program\n", 0o755, 126, "cannot execute binary file: Exec format error"),
    (b"#!/bin/sh\necho hi\n", 0o644, 126, "Permission denied"),
    (None, None, 127, "command not found"),
])
def test_a_command_that_cannot_run_exits_as_a_shell_would(home, spool, content, mode, status,
                                                          words):
    if content is not None:
        (home / "prog").write_bytes(content)
        (home / "prog").chmod(mode)
    done = run_orion("run", "--", "./prog")
    assert done.returncode == status
    assert done.stderr == f"orion: error: ./prog: {words}\n"


def test_a_command_is_found_on_path_as_a_shell_finds_it(home, spool):
    """A bare name is looked up on PATH: the first executable file wins, a file that is
    not executable is passed over, and one that is the only match fails as exec fails."""
    first, second = home / "first", home / "second"
    for directory in (first, second):
        directory.mkdir()
    (first / "prog").write_text("#!/bin/sh\necho not me\n")  # not executable
    (second / "prog").write_text("#!/bin/sh\necho found\n")
    (second / "prog").chmod(0o755)
    path = f"{first}{os.pathsep}{second}{os.pathsep}{os.environ['PATH']}"
    done = run_orion("run", "--", "prog", env={"PATH": path})
    assert (done.returncode, done.stdout) == (0, "found\n"), done.stderr
    done = run_orion("run", "--", "prog", env={"PATH": f"{first}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 126
    assert done.stderr == "orion: error: prog: Permission denied\n"


def test_the_child_gets_the_signal_dispositions_a_shell_gives(spool):
    """Python ignores SIGPIPE and SIGXFSZ; the command gets them back at their defaults
    (`yes | head` ends quietly), as from subprocess, while a signal ignored by whoever
    started `orion run` (nohup) stays ignored."""
    plain = subprocess.run(["grep", "SigIgn", "/proc/self/status"], capture_output=True,
                           text=True, check=True)
    done = run_orion("run", "--", "grep", "SigIgn", "/proc/self/status")
    assert done.stdout == plain.stdout
    assert int(done.stdout.split()[1], 16) & (1 << (signal.SIGPIPE - 1)) == 0
    done = run_orion("run", "--", "sh", "-c", "yes | head -n 1")
    assert (done.returncode, done.stdout) == (0, "y\n")
    assert "Broken pipe" not in done.stderr
    nohup = subprocess.run([sys.executable, "-c",
                            "import signal, subprocess, sys\n"
                            "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
                            "sys.exit(subprocess.run([sys.executable, '-m', 'orion', 'run', '--',"
                            " 'grep', 'SigIgn', '/proc/self/status']).returncode)\n"],
                           capture_output=True, text=True)
    assert int(nohup.stdout.split()[1], 16) & (1 << (signal.SIGHUP - 1))
