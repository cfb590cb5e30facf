"""Put on PYTHONPATH by `orion run` and by traced parents: start the agent in this process,
then run the sitecustomize module this one hides, if there is one."""

import os
import sys


def _boot() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    if os.environ.get("ORION_MODE"):
        import gc

        # The collector's passes over the objects of the agent's modules as they are
        # imported would add ~6% to its start-up; the program gets it back as it was.
        collecting = gc.isenabled()
        gc.disable()
        try:
            from orion.agent.autostart import boot
        except ImportError:  # orion is not installed for this interpreter
            pass
        else:
            boot()
        finally:
            if collecting:
                gc.enable()
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    if not _may_hold_sitecustomize(rest):
        return  # the usual case: importlib's machinery would cost every process ~5 ms
    import importlib.machinery
    import importlib.util

    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


def _may_hold_sitecustomize(paths: list) -> bool:
    """Whether a sitecustomize module could be on `paths`: a file or package of that name in
    a directory, or any entry that is not a directory (a zip file: only importlib can say)."""
    import _imp

    names = ["sitecustomize.py", "sitecustomize.pyc", "sitecustomize"]
    names += ["sitecustomize" + suffix for suffix in _imp.extension_suffixes()]
    for path in paths:
        path = path or os.curdir
        if os.path.isdir(path):
            if any(os.path.exists(os.path.join(path, name)) for name in names):
                return True
        elif os.path.exists(path):
            return True
    return False


_boot()
