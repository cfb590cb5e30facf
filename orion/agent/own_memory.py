"""tracemalloc shows a traced program its own allocations, not the agent's.

A program that compares tracemalloc snapshots to find its leaks would otherwise count the
trace being written: record batches waiting for the writer, interned strings, function
tables. The agent's Python allocations are those made with an Orionis frame innermost;
the C hook allocates from the C library, which tracemalloc does not see.
`tracemalloc.get_traced_memory()` still counts the agent's Python allocations.
"""

from __future__ import annotations

import os
import sys

_ORION_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def hide_agent_allocations() -> None:
    """Leave the agent's allocations out of every snapshot. tracemalloc takes its raw
    traces from `_tracemalloc._get_traces`, which it binds when imported: wrapped there
    (and in tracemalloc if imported already), it costs nothing until a snapshot."""
    import _tracemalloc

    original = _tracemalloc._get_traces
    if getattr(original, "orion_wrapped", False):
        return

    def _get_traces() -> list:
        return [trace for trace in original()
                if not (trace[2] and trace[2][0][0].startswith(_ORION_DIR))]

    _get_traces.orion_wrapped = True  # type: ignore[attr-defined]
    _tracemalloc._get_traces = _get_traces
    module = sys.modules.get("tracemalloc")
    if module is not None:
        module._get_traces = _get_traces
