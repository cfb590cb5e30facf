"""Declares the optional C hook and builds the C/C++ agent; pyproject.toml holds the metadata.

Both are optional: without a compiler the Python agent falls back to its pure-Python hook,
and the C/C++ agent is built on first use (orion/native/build.py) once a compiler exists.
"""

import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class OptionalBuildExt(build_ext):
    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler: the pure-Python hook is used
            print(f"warning: orion.agent._hook not built ({exc}); using the Python hook")
        self.build_native_agent()

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            print(f"warning: {ext.name} not built ({exc}); using the Python hook")

    def native_agent_dir(self) -> Path:
        """Where the package's orion/native/lib is: in the tree for editable installs."""
        return (ROOT if self.inplace else Path(self.build_lib)) / "orion" / "native" / "lib"

    def build_native_agent(self):
        """liborion.so and liborion++.so as package data, found by orion.native.build."""
        sys.path.insert(0, str(ROOT))
        from orion.native.build import STAMP, BuildError, compile_agent, source_digest

        out = self.native_agent_dir()
        try:  # built from these sources already (another interpreter's build): keep it
            if (out / STAMP).read_text().strip() == source_digest(ROOT / "agents"):
                return
        except OSError:
            pass
        try:
            built = compile_agent(ROOT / "agents", out)
        except BuildError as exc:
            print(f"warning: {exc}; orion builds it on first use")
        else:
            print(f"built the C/C++ agent: {', '.join(built)}")

    def get_outputs(self):
        agent = self.native_agent_dir()
        return super().get_outputs() + [str(p) for p in agent.glob("*") if p.is_file()]


setup(
    ext_modules=[
        Extension("orion.agent._hook", ["orion/agent/_hook.c"], optional=True),
        # The writer's zstd through libzstd.so.1, loaded at run time by the C agent's loader.
        Extension("orion.format._zstd", ["orion/format/_zstd.c", "agents/c/src/compress.c"],
                  include_dirs=["agents/c/src"], libraries=["dl"], optional=True),
        # The writer's msgpack packing (msgpack's import would cost every traced process's
        # start; orion/format/writer.py falls back to it without this).
        Extension("orion.format._pack", ["orion/format/_pack.c"], optional=True),
        # The trace index's pass over every record (orion/analysis/trace_index.py falls back
        # to Python without it).
        Extension("orion.analysis._index", ["orion/analysis/_index.c"], optional=True),
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
