"""The `orion` program's entry point, with a fast path for `orion run`.

Every command run under `orion run` pays its start-up, and importing click alone costs
about 40 ms, so `orion run [OPTIONS] [--] COMMAND...` with plain arguments (options from
RUN_OPTIONS, then the command) is parsed here without click. Everything else (other
commands, global options, --help, an unknown or malformed option, a missing command) goes
to the click CLI in orion.cli, which stays the definition of every option and the one source
of help and usage errors; tests/test_entry.py checks that both parse alike.
"""

from __future__ import annotations

import sys

# `orion run`'s options as orion/commands/run.py declares them: flag -> (parameter, kind),
# kind "flag" (no value), "value" (the last one wins) or "multiple" (repeatable).
RUN_OPTIONS: dict[str, tuple[str, str]] = {
    "--mode": ("mode", "value"),
    "--include": ("include", "multiple"),
    "--exclude": ("exclude", "multiple"),
    "--include-func": ("include_funcs", "multiple"),
    "--exclude-func": ("exclude_funcs", "multiple"),
    "--sample": ("sample", "value"),
    "--spool": ("spool", "value"),
    "--verbose": ("verbose", "flag"),
    "-v": ("verbose", "flag"),
}
MODES = ("dev", "safe", "error")


def parse_run(args: list[str]) -> dict | None:
    """`orion run`'s parameters from the arguments after `run`, or None when they are not
    plain enough to be sure of parsing them as click would."""
    params: dict = {"mode": None, "include": [], "exclude": [], "include_funcs": [],
                    "exclude_funcs": [], "sample": None, "spool": None, "verbose": False}
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--":
            position += 1
            break
        if not arg.startswith("-") or arg == "-":
            break  # the command starts here; what follows is its own
        flag, has_value, value = arg.partition("=")
        if flag not in RUN_OPTIONS:
            return None
        name, kind = RUN_OPTIONS[flag]
        position += 1
        if kind == "flag":
            if has_value:
                return None
            params[name] = True
            continue
        if not has_value:
            if position == len(args) or args[position].startswith("-"):
                return None
            value = args[position]
            position += 1
        if name == "mode" and value not in MODES:
            return None
        if kind == "multiple":
            params[name].append(value)
        else:
            params[name] = value
    command = args[position:]
    if not command:
        return None
    return {**{key: tuple(value) if isinstance(value, list) else value
               for key, value in params.items()}, "command": command}


def main() -> int:
    """`orion ...`: the fast `run` when it applies, else the click CLI."""
    args = sys.argv[1:]
    params = parse_run(args[1:]) if args[:1] == ["run"] else None
    if params is None:
        from .cli import main as cli_main

        return cli_main(args)
    return _run(params)


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _run(params: dict) -> int:
    """`orion run` with parsed parameters: errors as the click CLI shows them (one line,
    exit 2 or the error's own status), then exit as the child did."""
    import gc

    # A short-lived process that makes few reference cycles: the collector's passes over
    # the objects of the modules being imported cost it ~4% of its instructions.
    gc.disable()
    from .errors import debug_enabled, error_report
    from .running import exit_like, traced_run
    from .spooldir import resolve_spool_dir

    try:
        status = traced_run(params.pop("command"), spool=resolve_spool_dir(params.pop("spool")),
                            say=_say, **params)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if debug_enabled():
            raise
        message, status = error_report(exc)
        _say(_escaped(f"orion: error: {message}"))
        return status
    exit_like(status, finalize=False)


def _escaped(line: str) -> str:
    from .render.safe import terminal  # the message may quote a trace or a path

    return terminal(line)
