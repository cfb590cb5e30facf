"""The C/C++ agent keeps secrets out of the file (spec section 7): the values of
secret-looking command-line options, and secret environment values inside exception and
crash messages (a C++ what())."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import CXX_COMPILERS, assert_valid, by_type, compile_program, decoded, orion

LEAKS = r"""
#include <cstdlib>
#include <stdexcept>
#include <string>
static void connect(const char *token) {
    throw std::runtime_error(std::string("login refused for token ") + token);
}
int main() {
    connect(std::getenv("MY_API_TOKEN"));
    return 0;
}
"""

TOKEN = "tok-5ecr3t-value-42"
PASSWORD = "hunter99"
KEY = "sk-key-0f1e2d"


@pytest.mark.skipif(not shutil.which("zstd"), reason="needs the zstd command")
@pytest.mark.parametrize("mode", ["dev", "error"])
@pytest.mark.parametrize("compiler", CXX_COMPILERS)
def test_secrets_never_reach_the_file(tmp_path: Path, compiler: str, mode: str) -> None:
    exe = compile_program(tmp_path, compiler, LEAKS)
    spool = tmp_path / "spool"
    env = dict(os.environ, MY_API_TOKEN=TOKEN)
    result = subprocess.run(
        ["python3", "-m", "orion", "run", "--mode", mode, "--spool", str(spool), "--",
         str(exe), "--password", PASSWORD, f"--api-key={KEY}", "plain"],
        env=env, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == -signal.SIGABRT, result.stderr
    (trace,) = spool.glob("*.otrace")
    assert_valid(trace)
    raw = trace.read_bytes()
    plain = subprocess.run(["zstd", "-dc", str(trace)], capture_output=True, check=True).stdout
    for secret in (TOKEN, PASSWORD, KEY):
        assert secret.encode() not in raw and secret.encode() not in plain, secret
    records = decoded(trace)
    assert records[0]["process"]["argv"][1:] == [
        "--password", "<redacted>", "--api-key=<redacted>", "plain"]
    (crash,) = by_type(records, "crash")
    assert crash["message"] == "login refused for token <redacted>"
    if mode == "dev":
        (raised,) = by_type(records, "exception")
        assert raised["message"] == "login refused for token <redacted>"
    end = by_type(records, "end")[0]
    assert end["exception"]["message"] == "login refused for token <redacted>"
    assert end["command"] == records[0]["process"]["argv"]
    assert orion("show", str(trace)).returncode == 0


SHAPES = r"""
#include <stdlib.h>
#include <stdexcept>
#include <string>
static void connect(const char *url) {
    throw std::runtime_error(std::string("cannot reach ") + url + " with Bearer " +
                             std::getenv("GITHUB_TOKEN"));
}
int main(int argc, char **argv) {
    connect(argc > 1 ? argv[1] : "");
    return 0;
}
"""
URL = "postgres://app:pg-pass-77@db.internal/app"
GITHUB = "ghp_" + "Zq9" * 12


@pytest.mark.parametrize("compiler", CXX_COMPILERS[:1])
def test_pwd_stays_and_secret_shapes_go(tmp_path: Path, compiler: str) -> None:
    """As the Python agent (tests/agent/test_secrets.py): the working directory (PWD) is no
    secret; URL passwords and tokens are redacted in argv, messages and the snapshot, which
    records the selected variables and counts the rest."""
    exe = compile_program(tmp_path, compiler, SHAPES)
    spool = tmp_path / "spool"
    env = dict(os.environ, PWD=str(tmp_path), OLDPWD=str(tmp_path.parent), DB_URL=URL,
               GITHUB_TOKEN=GITHUB, AUTHOR="Jane Doe", MY_PLAIN_SETTING="kept out",
               ORION_ENV_ALLOW="DB_URL, OLDPWD,AUTH*")
    result = subprocess.run(["python3", "-m", "orion", "run", "--mode", "dev", "--spool",
                             str(spool), "--", str(exe), URL, str(tmp_path / "settings.toml")],
                            env=env, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == -signal.SIGABRT, result.stderr
    (trace,) = spool.glob("*.otrace")
    assert_valid(trace)
    plain = subprocess.run(["zstd", "-dc", str(trace)], capture_output=True).stdout
    assert b"pg-pass-77" not in plain and GITHUB.encode() not in plain
    records = decoded(trace)
    header = records[0]
    assert header["process"]["argv"][1:] == ["postgres://app:<redacted>@db.internal/app",
                                             str(tmp_path / "settings.toml")]
    variables = header["env"]["vars"]
    assert variables["PWD"] == str(tmp_path) and variables["OLDPWD"] == str(tmp_path.parent)
    assert variables["DB_URL"] == "postgres://app:<redacted>@db.internal/app"
    assert variables["GITHUB_TOKEN"] == {"t": "str", "redacted": True}
    assert variables["AUTHOR"] == "Jane Doe"
    assert "MY_PLAIN_SETTING" not in variables and "HOME" not in variables
    assert header["env"]["vars_omitted"] >= 2
    message = "cannot reach postgres://app:<redacted>@db.internal/app with Bearer <redacted>"
    (crash,) = by_type(records, "crash")
    assert crash["message"] == message


def test_the_native_and_python_snapshots_select_the_same_common_variables() -> None:
    from orion.agent.envsnap import COMMON_VARIABLES

    source = (Path(__file__).parents[2] / "agents/c/src/orion.c").read_text()
    table = source.split("ENV_SELECTED[] = {", 1)[1].split("/* the C runtime's own */", 1)[0]
    assert re.findall(r'"([^"]+)"', table) == list(COMMON_VARIABLES)
