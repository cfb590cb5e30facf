"""The C and C++ agents' own CMake builds and ctest suites, run as a user of the agents would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ctest") is None,
                    reason="cmake/ctest not installed (scripts/test installs them)")
@pytest.mark.parametrize("toolchain", [t for t in (("gcc", "g++"), ("clang", "clang++"))
                                       if shutil.which(t[0]) and shutil.which(t[1])],
                         ids=lambda t: t[0])
@pytest.mark.parametrize("agent", ["c", "cpp"])
def test_cmake_build_and_ctest_pass(tmp_path: Path, agent: str,
                                    toolchain: tuple[str, str]) -> None:
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(ROOT / "agents" / agent), "-B", str(build),
                    "-DCMAKE_BUILD_TYPE=RelWithDebInfo", f"-DCMAKE_C_COMPILER={toolchain[0]}",
                    f"-DCMAKE_CXX_COMPILER={toolchain[1]}"], check=True, capture_output=True)
    built = subprocess.run(["cmake", "--build", str(build), "-j", "2"], capture_output=True,
                           text=True)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-2000:]
    assert "warning" not in built.stdout + built.stderr
    result = subprocess.run(["ctest", "--test-dir", str(build), "--output-on-failure"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "tests passed" in result.stdout
