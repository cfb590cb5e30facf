"""The installed CMake package: `find_package(Orion 0.1 REQUIRED)` gives working
orion::orion (shared) and orion::orion_static targets, whether liborion was installed
with CMake or with the plain Makefile (what `orion init` advises)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parents[2] / "agents" / "c"

if not shutil.which("cmake"):
    pytest.skip("needs cmake", allow_module_level=True)

CONSUMER = """
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(Orion 0.1 REQUIRED)
foreach(kind IN ITEMS shared static)
  add_executable(app_${kind} app.c)
  target_compile_options(app_${kind} PRIVATE -finstrument-functions -g)
endforeach()
target_link_libraries(app_shared PRIVATE orion::orion)
target_link_libraries(app_static PRIVATE orion::orion_static)
"""

APP = r"""
#include <orion.h>
static int work(int n) { ORION_TRACE(); return n * 2; }
int main(void) { orion_flush(); return work(21) == 42 ? 0 : 1; }
"""


def run(*command: str | Path, **kwargs) -> None:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True,
                            **kwargs)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def build_consumer(tmp_path: Path, prefix: Path) -> None:
    """Configure, build and run the consumer against the package installed at `prefix`."""
    source = tmp_path / "consumer"
    source.mkdir()
    (source / "CMakeLists.txt").write_text(CONSUMER)
    (source / "app.c").write_text(APP)
    build = tmp_path / "consumer-build"
    run("cmake", "-S", source, "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}")
    run("cmake", "--build", build, "-j", "1")
    for kind in ("shared", "static"):
        spool = tmp_path / f"spool-{kind}"
        run(build / f"app_{kind}", env={"ORION_SPOOL": str(spool), "ORION_MODE": "dev",
                                        "PATH": "/usr/bin:/bin"})
        assert list(spool.glob("*.otrace")), f"app_{kind} left no trace"


def test_cmake_install(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    build = tmp_path / "build"
    run("cmake", "-S", AGENT, "-B", build, f"-DCMAKE_INSTALL_PREFIX={prefix}",
        "-DCMAKE_INSTALL_LIBDIR=lib", "-DBUILD_TESTING=OFF")
    run("cmake", "--build", build, "-j", "1")
    run("cmake", "--install", build)
    assert (prefix / "lib/cmake/Orion/OrionConfigVersion.cmake").exists()
    build_consumer(tmp_path, prefix)


def test_make_install(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    run("make", "-C", AGENT, f"BUILD={tmp_path / 'build'}", f"PREFIX={prefix}", "install")
    build_consumer(tmp_path, prefix)
