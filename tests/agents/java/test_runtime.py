"""The CLI's Java side (orion/runtimes/java.py): the environment every JVM of a command
gets, `orion doctor`'s checks, and a System.exit status kept and recorded."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from orion.runtimes import Capture, capture_environ

from .conftest import Project, by_type, decoded, orion, plain_env, requires_jdk

pytestmark = requires_jdk


def test_the_agent_joins_the_users_own_java_tool_options(project: Project, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project.root)  # a Java project: the agent is built there if need be
    env = capture_environ(Capture(mode="dev", spool=str(tmp_path),
                                  base={**plain_env(), "JAVA_TOOL_OPTIONS": "-Dshop.color=blue"}))
    words = shlex.split(env["JAVA_TOOL_OPTIONS"])
    [agent] = [w for w in words if w.startswith("-javaagent:")]
    assert Path(agent.removeprefix("-javaagent:")).is_file()
    assert words[-1] == "-Dshop.color=blue"
    again = capture_environ(Capture(mode="dev", spool=str(tmp_path), base=env))
    assert again["JAVA_TOOL_OPTIONS"] == env["JAVA_TOOL_OPTIONS"]  # added once


def test_doctor_reports_the_built_agent(project: Project) -> None:
    done = orion("doctor", cwd=project.root)
    [line] = [line for line in done.stdout.splitlines() if "java agent" in line]
    assert line.startswith("ok") and line.endswith(".jar")
    assert os.path.isfile(line.split(": ", 1)[1])


def test_system_exit_keeps_its_status_and_fails_the_trace(project: Project,
                                                          tmp_path: Path) -> None:
    source = tmp_path / "Quit.java"
    source.write_text("public class Quit {\n"
                      "    static void stop(int status) { System.exit(status); }\n"
                      "    public static void main(String[] args) { System.out.println(\"bye\"); stop(3); }\n"
                      "}\n")
    subprocess.run(["javac", "-g", "-d", str(tmp_path), str(source)], check=True)
    spool = tmp_path / "spool"
    done = orion("run", "--spool", str(spool), "--mode", "error", "--", "java", "-cp",
                 str(tmp_path), "Quit", cwd=project.root)
    assert done.returncode == 3 and done.stdout == "bye\n"
    [trace] = spool.glob("*.otrace")
    assert orion("validate", str(trace), cwd=tmp_path).returncode == 0
    records = decoded(trace)
    [end] = by_type(records, "end")
    assert (end["status"], end["exit_code"]) == ("failed", 3)
    assert end["exception"] == {"type": "System.exit", "message": "exit status 3"}
    fns = {f["id"]: f["name"] for f in by_type(records, "function")}
    [stack] = by_type(records, "stack")
    assert [fns[f["fn"]] for f in stack["frames"]] == ["Quit.main", "Quit.stop"]


def test_system_exit_zero_inside_calls_leaves_a_valid_ok_trace(project: Project,
                                                               tmp_path: Path) -> None:
    source = tmp_path / "Done.java"
    source.write_text("public class Done {\n"
                      "    static void finish() { System.exit(0); }\n"
                      "    public static void main(String[] args) { finish(); }\n"
                      "}\n")
    subprocess.run(["javac", "-g", "-d", str(tmp_path), str(source)], check=True)
    spool = tmp_path / "spool"
    done = orion("run", "--spool", str(spool), "--mode", "dev", "--", "java", "-cp",
                 str(tmp_path), "Done", cwd=project.root)
    assert done.returncode == 0
    [trace] = spool.glob("*.otrace")
    checked = orion("validate", str(trace), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout  # was: "lane 0 ends with 2 open call(s)"
    records = decoded(trace)
    assert by_type(records, "end")[0]["status"] == "ok"
    assert len(by_type(records, "unwind")) == 2  # finish, then main
