"""One program recorded on every CPython this machine has (3.11: the profile hook; 3.12
and 3.13: the sys.monitoring hook): the traces hold the same calls of the program's own
functions, with the same sites, and the same failing path.

The interpreters: $ORION_TEST_PYTHONS (paths, os.pathsep-separated), else this one and
pyenv's 3.11, 3.12 and 3.13, each used when it can import orion with the C hook built
(scripts/test builds it for each)."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys

import pytest

from orion.model import failing_path, load_trace

from .agent_helpers import clean_env, run, traces

PROGRAM = """\
import threading

class Basket:
    def __init__(self):
        self.items = []

    def add(self, name, price):
        self.items.append((name, price))
        return len(self.items)

    def total(self):
        return sum(price for _, price in self.items)

def prices():
    yield 3
    yield 4

def check(total):
    if total > 5:
        raise ValueError(f"total {total} over budget")
    return total

def fill(basket):
    for price in prices():
        basket.add("thing", price)

def tolerant(basket):
    try:
        check(99)
    except ValueError:
        return "caught"

def worker(basket):
    basket.add("from thread", 0)

def main():
    basket = Basket()
    fill(basket)
    tolerant(basket)
    thread = threading.Thread(target=worker, args=(basket,))
    thread.start()
    thread.join()
    check(basket.total())

main()
"""


def _candidates() -> list[str]:
    listed = os.environ.get("ORION_TEST_PYTHONS")
    if listed:
        return [p for p in listed.split(os.pathsep) if p]
    home = os.path.expanduser("~/.pyenv/versions")
    found = [sys.executable]
    for minor in ("3.11", "3.12", "3.13"):
        found += sorted(glob.glob(os.path.join(home, f"{minor}.*", "bin", "python3")))[-1:]
    return found


def _interpreters() -> dict[str, tuple[str, str]]:
    """version -> (path, the C hook's kind) for every usable interpreter, one per version."""
    usable: dict[str, tuple[str, str]] = {}
    probe = ("import sys, orion.agent._hook as h; "
             "print('%d.%d' % sys.version_info[:2], h.HOOK)")
    for path in _candidates():
        try:
            out = subprocess.run([path, "-c", probe], capture_output=True, text=True,
                                 timeout=30, env=clean_env())
        except OSError:
            continue
        if out.returncode == 0:
            version, hook = out.stdout.split()
            usable.setdefault(version, (path, hook))
    return usable


def _record(tmp_path, version: str, interpreter: str, mode: str):
    program = tmp_path / "shop.py"
    program.write_text(PROGRAM)
    spool = tmp_path / f"spool-{version}-{mode}"
    result = run([interpreter, "-m", "orion.agent", "--mode", mode, "--sample", "off",
                  "--spool", str(spool), str(program)], env=clean_env(ORION_HOOK="c"))
    assert result.returncode == 1, result.stderr
    assert "ValueError: total 7 over budget" in result.stderr
    (path,) = traces(spool)
    return load_trace(path)


def _own_calls(trace) -> list[tuple[str, str, int | None]]:
    """Every call of the program's own functions, lane by lane in order: (lane kind,
    qualified name, call site). A lane's first call has no site of the program's (the
    thread's is a line of threading.py, which each version numbers its own way)."""
    out = []

    def walk(call, kind, site):
        out.append((kind, call.fn.name, site))
        for child in call.children or ():
            walk(child, kind, child.site)

    for lane in trace.lanes.values():
        for root in lane.roots:
            walk(root, lane.kind, None)
    return out


@pytest.mark.parametrize("mode", ["dev", "error"])
def test_one_program_gives_the_same_trace_on_every_version(tmp_path, mode):
    interpreters = _interpreters()
    if len(interpreters) < 2:
        pytest.skip(f"one CPython version with orion and its C hook: {sorted(interpreters)}")
    hooks = {version: hook for version, (_, hook) in interpreters.items()}
    for version, hook in hooks.items():
        assert hook == ("profile" if version == "3.11" else "sys.monitoring"), hooks
    found = {version: _record(tmp_path, version, path, mode)
             for version, (path, _) in interpreters.items()}
    (first, reference), *others = sorted(found.items())
    expected_path = [call.fn.name for call in failing_path(reference)]
    assert expected_path == ["<module>", "main", "check"]
    expected_calls = _own_calls(reference)
    names = [name for _, name, _ in expected_calls]
    for name in ("Basket.add", "prices", "tolerant", "worker", "Basket.total"):
        assert name in names
    assert ("thread", "Basket.add", 34) in expected_calls  # the caller's line: a site
    for version, trace in others:
        assert [call.fn.name for call in failing_path(trace)] == expected_path, version
        if mode == "dev":  # the ring keeps the last calls: the same ones, by another clock
            assert _own_calls(trace) == expected_calls, (first, version)


def test_doctor_names_the_hook_of_the_interpreter_it_runs_on(tmp_path):
    interpreters = _interpreters()
    if not interpreters:
        pytest.skip("no CPython with orion and its C hook")
    for version, (path, hook) in interpreters.items():
        out = subprocess.run([path, "-m", "orion", "doctor", "--json"], capture_output=True,
                             text=True, timeout=120, cwd=tmp_path, env=clean_env())
        (check,) = [c for c in json.loads(out.stdout) if c["check"] == "agent hook"]
        assert check["level"] == "ok"
        assert re.search(rf": {re.escape(hook)} on CPython {re.escape(version)}\.\d+$",
                         check["detail"]), check
