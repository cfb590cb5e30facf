"""The CLI side of Node.js: the agent installed on first use, `orion doctor` and `orion
init` in a Node project."""

from __future__ import annotations

import shutil
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
