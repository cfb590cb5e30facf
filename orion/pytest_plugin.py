"""pytest plugin (entry point `orion`): one trace per failing test.

Active with `pytest --orion[=MODE]` or when capture is already on in the process (ORION_MODE,
`orion start`). In every mode each failing setup, call or teardown writes a trace of its
own, named by the test's node id, with the failing stack and the exception; passing tests
write nothing. In error mode that trace also holds the test's recent calls. In dev and
safe modes the process trace records every call, each test outcome is added to it as an
event, and it ends with pytest's exit status; a failing test's trace names it
(`process_trace` in its summary).
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("orion", "Orionis tracing")
    group.addoption("--orion", nargs="?", const="error", default=None, metavar="MODE",
                    choices=("dev", "safe", "error"),
                    help="Trace the tests (default mode: error, a trace per failing test).")
    group.addoption("--orion-spool", default=None, metavar="DIR",
                    help="Spool directory for the traces.")


def pytest_configure(config: pytest.Config) -> None:
    from . import agent

    mode = config.getoption("--orion", None)
    if mode and agent.current() is None:
        agent.start(mode=mode, spool=config.getoption("--orion-spool", None))
    if agent.current() is not None:
        config.pluginmanager.register(_Recorder(), "orion-recorder")


class _Recorder:
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """pytest's own exit status becomes the process trace's: `python -m pytest` exits
        through a SystemExit raised in pytest's code, which the agent does not trace."""
        from . import agent

        current = agent.current()
        if current is not None:
            current.exit_code = int(exitstatus)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        from . import agent

        session = agent.current()
        if session is not None and session.ring is not None:
            session.ring.clear()  # a failing test's trace holds that test's calls only

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        from . import agent

        session = agent.current()
        if session is None or report.passed or report.skipped:
            if session is not None and report.when == "call" and session.writer is not None:
                session.event("test", {"id": item.nodeid, "outcome": report.outcome,
                                       "when": report.when})
            return
        test = {"id": item.nodeid, "outcome": report.outcome, "when": report.when}
        exc = call.excinfo.value if call.excinfo is not None else None
        if exc is None:
            session.event("test", test)
            return
        session.fail(exc, kind="test", name=item.nodeid, test=test)
