"""Put on PYTHONPATH by `orion run` and by traced parents: start the agent in this process,
then run the sitecustomize module this one hides, if there is one."""

import os
import sys


def _boot() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    if os.environ.get("ORION_MODE"):
        try:
            from orion.agent.autostart import boot
        except ImportError:  # orion is not installed for this interpreter
            pass
        else:
            boot()
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    import importlib.machinery
    import importlib.util

    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


_boot()
