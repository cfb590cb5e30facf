"""`orion run`: the capture settings come from the option, else the environment, else the
config files (`orion init` writes the project's), else the command's default."""

from __future__ import annotations

import sys

from orion.config import agent_environ

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
