"""The C/C++ agent keeps secrets out of the file (spec section 7): the values of
secret-looking command-line options, and secret environment values inside exception and
crash messages (a C++ what())."""

from __future__ import annotations

import os
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
