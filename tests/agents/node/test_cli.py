"""The CLI side of Node.js: the agent installed on first use, `orion doctor` and `orion
init` in a Node project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from .conftest import orion, traces, validate

AGENT = Path(__file__).resolve().parents[3] / "agents" / "node"


def test_first_use_installs_the_agent_into_the_cache(project: Path, tmp_path: Path) -> None:
    source = tmp_path / "agent"
    shutil.copytree(AGENT, source, ignore=shutil.ignore_patterns("node_modules"))
    env = {"ORION_NODE_AGENT": str(source), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    spool = tmp_path / "spool"
    done = orion("run", "--mode", "dev", "--spool", str(spool), "--", "node", "app.mjs",
                 cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    assert "orion: installing the Node.js agent's dependencies into" in done.stderr
    installed = list((tmp_path / "cache" / "orionis" / "node-agent").glob("*/node_modules/acorn"))
    assert len(installed) == 1 and not (source / "node_modules").exists()
    validate(traces(spool), project)
    doctor = orion("doctor", cwd=project, env=env)
    assert f"node agent: {installed[0].parents[1]}" in doctor.stdout


def test_doctor_fails_for_a_node_project_without_the_agent(project: Path, tmp_path: Path) -> None:
    doctor = orion("doctor", cwd=project, env={"ORION_NODE_AGENT": str(tmp_path / "nowhere")})
    assert doctor.returncode != 0
    assert "node agent" in doctor.stdout and "ORION_NODE_AGENT" in doctor.stdout


def test_init_names_the_next_step(project: Path) -> None:
    done = orion("init", cwd=project)
    assert done.returncode == 0
    assert "next (node): `orion test -- npm test`" in done.stdout


def test_start_says_how_and_node_processes_follow_its_settings(project: Path,
                                                               tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    started = orion("start", "--mode", "dev", "--spool", str(spool), "--site",
                    str(tmp_path / "site"), cwd=project, env=env)
    assert started.returncode == 0, started.stderr
    option = started.stderr.split("export NODE_OPTIONS='")[1].split("'")[0]
    assert option.startswith("--require ") and option.endswith("register.js")
    user = {**env, "NODE_OPTIONS": option}
    done = subprocess.run(["node", "app.mjs"], cwd=project, capture_output=True, text=True,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith("ORION_")},
                               **user}, timeout=60)
    assert done.returncode == 0, done.stderr
    [path] = traces(spool)
    validate([path], project)
    stopped = orion("stop", "--site", str(tmp_path / "site"), cwd=project, env=env)
    assert stopped.returncode == 0 and "Node.js" in stopped.stderr
    assert not (tmp_path / "config" / "orionis" / "node-start.json").exists()


def test_a_pip_install_carries_the_agent(tmp_path: Path) -> None:
    """A wheel of orionis-trace, installed into a fresh venv, records `node x.js`: the agent's
    JS files come with the package, its npm dependencies are installed on first use."""
    root = Path(__file__).resolve().parents[3]
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(root),
                            "-w", str(wheels)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    [wheel] = wheels.glob("orionis_trace-*.whl")
    installed = subprocess.run([*pip, "--no-deps", str(wheel)], capture_output=True, text=True,
                               timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]
    dependencies = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    installed = subprocess.run([*pip, *dependencies], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-3000:]

    project = tmp_path / "app"
    project.mkdir()
    (project / "package.json").write_text('{"name": "app", "version": "1.0.0"}\n')
    (project / "x.js").write_text("function add(a, b) { return a + b; }\nconsole.log(add(2, 3));\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORION_", "NODE_"))}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    spool = tmp_path / "spool"
    orion_bin = str(venv / "bin" / "orion")
    done = subprocess.run([orion_bin, "run", "--mode", "dev", "--spool", str(spool), "--", "node",
                           "x.js"], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert (done.returncode, done.stdout) == (0, "5\n"), done.stderr
    assert "installing the Node.js agent's dependencies" in done.stderr
    [path] = traces(spool)
    checked = subprocess.run([orion_bin, "validate", str(path)], capture_output=True, text=True,
                             env=env, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shown = subprocess.run([orion_bin, "show", str(path)], capture_output=True, text=True, env=env,
                           timeout=120)
    assert "add(a=2, b=3)" in shown.stdout
    doctor = subprocess.run([orion_bin, "doctor"], cwd=project, capture_output=True, text=True,
                            env=env, timeout=120)
    assert f"node agent: {tmp_path / 'cache' / 'orionis' / 'node-agent'}" in doctor.stdout
