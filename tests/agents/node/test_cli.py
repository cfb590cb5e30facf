"""The CLI side of Node.js: the agent installed on first use, `orion doctor` and `orion
init` in a Node project."""

from __future__ import annotations

import os
import shutil
import subprocess
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
