"""`orion replay`: step through a recorded trace forwards and backwards, like pdb or gdb.

Interactive on a terminal (readline history, tab completion of commands, function and
variable names); commands piped on stdin run as a script with no prompt. With `--json`
it prints the state at one point (`--at N`, `--time T`, `--exception`) and exits:

    {"index": N, "events": total, "t": ns since start, "lane": {"id", "name"},
     "event": {"kind": "call"|"return"|"unwind"|"exception"|"event"|"crash"|"stack",
               "depth", "function"?, "value"? (return), "line"/"error" (unwind),
               "exception_kind"/"type"/"message"/"line" (exception), "record"? (others)},
     "stack": [{"function", "module", "file", "def_line", "line", "start", "args",
                "locals", "outcome"?, "value"?, "error"?}, ...]}   outermost first

Locals are what the agent captured when the frame unwound (null when it returned).
"""

from __future__ import annotations

import cmd
import os
import sys
from pathlib import Path
from typing import IO, Any

import click

from ..analysis.replay import (CALL, CRASH, EVENT, EXCEPTION, RETURN, STACK, UNWIND, Frame,
                               Replay, ReplayError)
from ..analysis.trace_index import open_replay
from ..errors import OrionError
from ..format.writer import NO_VALUE
from ..ids import resolve_many
from ..options import json_option, spool_option
from ..render.jsonout import write_json
from ..render.safe import Style, terminal, terminal_block
from ..render.table import wants_colour
from ..render.tree import exception_text, format_pairs, format_value
from ..spool import Spool, user_data_dir
from ..timeparse import format_duration_ns, parse_nanoseconds

HISTORY_FILE = "replay_history"
LIST_CONTEXT = 5
ALIASES = {"s": "step", "n": "next", "fin": "finish", "rs": "reverse-step",
           "rn": "reverse-next", "rf": "reverse-finish", "c": "continue",
           "rc": "reverse-continue", "b": "break", "p": "print", "bt": "where",
           "w": "where", "l": "list", "g": "goto", "q": "quit", "exit": "quit"}


def parse_time_ns(text: str) -> int:
    """`1500`, `1500ns`, `2.5us`, `1.2ms`, `3s` -> ns since the trace started."""
    try:
        return parse_nanoseconds(text)
    except OrionError:
        raise OrionError(f"{text!r} is not a time since the trace started "
                         f"(e.g. 1500, 2.5ms, 1s)") from None


def _file_path(fn_file: str | None, cwd: str | None) -> Path | None:
    if not fn_file:
        return None
    path = Path(fn_file)
    if not path.is_absolute() and cwd:
        path = Path(cwd) / path
    return path if path.is_file() else None


def command_name(word: str) -> str:
    """The method suffix of a typed command: aliases resolved, `reverse-step` as
    `reverse_step`."""
    return ALIASES.get(word, word).replace("-", "_")


class ReplayShell(cmd.Cmd):
    """The replay REPL. Every move prints the new location; errors go to stderr."""

    doc_header = "Commands (type help COMMAND; aliases in brackets):"

    def __init__(self, replay: Replay, stdin: IO[str], stdout: IO[str], stderr: IO[str],
                 interactive: bool, colour: bool) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        self.replay = replay
        self.stderr = stderr
        self.interactive = interactive
        self.use_rawinput = interactive
        self.prompt = "(orion) " if interactive else ""
        self.colour = colour
        self.style = Style(colour)
        self.failed = False
        self.identchars += "-"

    # -- plumbing ----------------------------------------------------------------------

    def out(self, text: str = "") -> None:
        self.stdout.write(terminal_block(text) + "\n")

    def error(self, message: str) -> None:
        self.failed = True
        self.stderr.write(terminal(f"error: {message}") + "\n")
        self.stderr.flush()

    def precmd(self, line: str) -> str:
        words = line.strip().split(None, 1)
        if not words or words[0].startswith("#"):
            return ""
        self.typed = words[0]
        return " ".join([command_name(words[0]), *words[1:]])

    def emptyline(self) -> bool:
        if self.interactive and self.lastcmd:
            return self.onecmd(self.lastcmd)
        return False

    def default(self, line: str) -> None:
        self.error(f"unknown command {getattr(self, 'typed', line.split()[0])!r} (type help)")

    def do_help(self, arg: str) -> None:
        """help [COMMAND]: the commands, or what COMMAND (or an alias) does."""
        if arg.strip():
            super().do_help(command_name(arg.strip()))
            return
        aliases: dict[str, list[str]] = {}
        for alias, name in ALIASES.items():
            aliases.setdefault(name, []).append(alias)
        names = sorted(n[3:].replace("_", "-") for n in self.get_names()
                       if n.startswith("do_") and n != "do_EOF")
        self.out(self.doc_header)
        self.columnize([n + (f" [{', '.join(aliases[n])}]" if n in aliases else "")
                        for n in names], 80)

    def completenames(self, text: str, *ignored: Any) -> list[str]:
        names = [n[3:].replace("_", "-") for n in self.get_names() if n.startswith("do_")]
        return sorted(n for n in set(names) | set(ALIASES) if n.startswith(text))

    def complete_break(self, text: str, *ignored: Any) -> list[str]:
        return [n for n in self.replay.function_names() if n.startswith(text)]

    def complete_print(self, text: str, *ignored: Any) -> list[str]:
        names = set()
        frames = self.replay.frames()
        if frames:
            names |= set(self._variables(frames[-1]))
        return sorted(n for n in names if n.startswith(text))

    def _move(self, move, *args: Any, count: str = "") -> None:
        """Make `move` (COUNT times, for `step 5`), then show where it ended."""
        try:
            times = int(count) if count.strip() else 1
        except ValueError:
            self.error(f"not a count: {count.strip()!r}")
            return
        for done in range(max(times, 1)):
            try:
                move(*args)
            except ReplayError as exc:
                self.error(str(exc))
                if not done:
                    return
                break
        self.show_location()

    # -- what is shown -----------------------------------------------------------------

    def location(self) -> str:
        """One line: event number, what happens there, on which lane, when."""
        r = self.replay
        step = r.step
        call = step.call
        where = self.style(f"[#{r.pos} of {len(r.steps)}]", dim=True)  # --json's index, events
        if step.kind == CALL:
            what = "→ " + self.style(call.label, bold=True) + f"({format_pairs(call.args)})"
        elif step.kind == RETURN:
            value = "" if call.value is NO_VALUE else " → " + format_value(call.value)
            what = "← " + self.style(call.label, bold=True) + self.style(value, fg="green")
        elif step.kind == UNWIND:
            what = "← " + self.style(call.label, bold=True) + "  " + self.style(
                exception_text(call.error, call.line), fg="red")
        elif step.kind == EXCEPTION:
            item = step.item
            where_line = f" (line {item.line})" if item.line is not None else ""
            text = f"! {item.kind} {item.type}: {item.message or ''}".rstrip(": ")
            what = self.style(text + where_line, fg="red" if item.kind == "raised" else "yellow")
            if call is not None:
                what += f"  in {call.label}"
        elif step.kind == CRASH:
            item = step.item
            what = self.style(f"✗ crash ({item.kind}): {item.reason}: {item.message}", fg="red")
        elif step.kind == STACK:
            what = self.style(f"≡ stack snapshot ({step.item.reason})", fg="cyan")
        else:
            item = step.item
            attrs = format_pairs(item.attrs, " ") if isinstance(item.attrs, dict) else ""
            what = self.style(f"• {item.kind} {attrs}".rstrip(), fg="cyan")
        lane = f"  · {step.lane.name}" if len(r.trace.lanes) > 1 else ""
        return f"{where} {what}{self.style(f'  · t={format_duration_ns(step.t)}{lane}', dim=True)}"

    def show_location(self) -> None:
        self.out(self.location())

    def _frame_line(self, frame: Frame) -> str:
        call = frame.call
        fn = call.fn
        place = ""
        if fn is not None and fn.file:
            line = frame.line if frame.line is not None else fn.line
            place = f"  at {os.path.basename(fn.file)}" + (f":{line}" if line is not None else "")
        args = f"({format_pairs(call.args)})" if fn is not None else ""
        return self.style(call.label, bold=True) + args + self.style(place, dim=True)

    @staticmethod
    def _variables(frame: Frame) -> dict[str, Any]:
        """Arguments, then captured locals, then the return value when returning."""
        variables = dict(frame.call.args or {})
        variables.update(frame.call.locals or {})
        if frame.returning and frame.call.value is not NO_VALUE:
            variables["<return>"] = frame.call.value
        return variables

    def _current_frame(self) -> Frame | None:
        frames = self.replay.frames()
        if not frames:
            self.error("not inside any call here")
            return None
        return frames[-1]

    complete_b, complete_p = complete_break, complete_print  # aliases complete too

    # -- movement ----------------------------------------------------------------------

    def do_step(self, arg: str) -> None:
        """step [N] [s]: the next event on this lane, into calls (N times)."""
        self._move(self.replay.forward, count=arg)

    def do_next(self, arg: str) -> None:
        """next [N] [n]: the next event on this lane, over calls (N times)."""
        self._move(self.replay.over, count=arg)

    def do_finish(self, arg: str) -> None:
        """finish [N] [fin]: run until the current call returns (N levels out)."""
        self._move(self.replay.out, count=arg)

    def do_reverse_step(self, arg: str) -> None:
        """reverse-step [N] [rs]: the previous event on this lane, into calls (N times)."""
        self._move(self.replay.backward, count=arg)

    def do_reverse_next(self, arg: str) -> None:
        """reverse-next [N] [rn]: the previous event on this lane, over calls (N times)."""
        self._move(self.replay.back_over, count=arg)

    def do_reverse_finish(self, arg: str) -> None:
        """reverse-finish [N] [rf]: back to where the current call was made (N levels)."""
        self._move(self.replay.back_out, count=arg)

    def do_goto(self, arg: str) -> None:
        """goto N [g]: event number N (negative: from the end)."""
        try:
            index = int(arg)
        except ValueError:
            self.error(f"goto needs an event number, not {arg!r}")
            return
        self._move(self.replay.goto, index)

    def do_time(self, arg: str) -> None:
        """time T: the first event at or after T since the trace started (1500, 2.5ms, 1s)."""
        try:
            t = parse_time_ns(arg)
        except OrionError as exc:
            self.error(str(exc))
            return
        self._move(self.replay.at_time, t)

    def do_exception(self, arg: str) -> None:
        """exception: the first exception raised in the trace."""
        self._move(self.replay.first_exception)

    def do_break(self, arg: str) -> None:
        """break FN [b]: stop `continue` at calls of FN (name, module.name); no FN: list."""
        if not arg.strip():
            self.out("\n".join(self.replay.breakpoints) or "no breakpoints")
            return
        try:
            count = self.replay.add_breakpoint(arg.strip())
        except ReplayError as exc:
            self.error(str(exc))
            return
        self.out(f"breakpoint on {arg.strip()} ({count} call{'s' if count != 1 else ''})")

    def do_delete(self, arg: str) -> None:
        """delete [FN]: remove the breakpoint on FN, or all breakpoints."""
        pattern = arg.strip()
        if pattern and pattern not in self.replay.breakpoints:
            self.error(f"no breakpoint on {pattern!r}")
            return
        self.replay.breakpoints = [b for b in self.replay.breakpoints if pattern and b != pattern]

    def do_continue(self, arg: str) -> None:
        """continue [c]: forward to the next breakpoint (or the end)."""
        self._move(self.replay.resume)

    def do_reverse_continue(self, arg: str) -> None:
        """reverse-continue [rc]: back to the previous breakpoint (or the start)."""
        self._move(self.replay.reverse_resume)

    # -- inspection --------------------------------------------------------------------

    def do_print(self, arg: str) -> None:
        """print [NAME] [p]: a variable of the current call; no NAME: args, locals, value."""
        frame = self._current_frame()
        if frame is None:
            return
        name = arg.strip()
        if not name:
            self.do_locals("")  # arguments, captured locals and the return value
            return
        variables = self._variables(frame)
        if name in ("retval", "return", "__return__") and "<return>" in variables:
            name = "<return>"
        if name not in variables:
            self.error(f"no variable {name!r} in {frame.call.label} here")
            return
        self.out(f"{name} = {format_value(variables[name], 1000)}")

    def do_args(self, arg: str) -> None:
        """args: the arguments of the current call."""
        frame = self._current_frame()
        if frame is None:
            return
        args = frame.call.args or {}
        self.out(f"args of {frame.call.label}:" + ("" if args else " none captured"))
        for name, value in args.items():
            self.out(f"  {name} = {format_value(value, 1000)}")

    def do_locals(self, arg: str) -> None:
        """locals: the current call's locals: its arguments, the locals captured when it
        unwound, and its return value when the cursor is at its return."""
        frame = self._current_frame()
        if frame is None:
            return
        call = frame.call
        self.out(f"locals of {call.label}:")
        for name, value in (call.args or {}).items():
            self.out(f"  {name} = {format_value(value, 1000)}  (argument)")
        args = call.args or {}
        if call.locals:
            where = f" at line {call.line}" if call.line is not None else ""
            for name, value in call.locals.items():
                if name in args and args[name] == value:
                    continue  # an argument still holding the value it was passed
                self.out(f"  {name} = {format_value(value, 1000)}  (when it unwound{where})")
        if frame.returning and call.value is not NO_VALUE:
            self.out(f"  <return> = {format_value(call.value, 1000)}")

    def do_retval(self, arg: str) -> None:
        """retval: the value the current call returned (at its return)."""
        frame = self._current_frame()
        if frame is None:
            return
        call = frame.call
        if not frame.returning:
            self.error(f"{call.label} has not returned yet here (try finish)")
        elif call.value is NO_VALUE:
            self.out(f"{call.label} {call.outcome} with no captured value")
        else:
            self.out(f"{call.label} returned {format_value(call.value, 1000)}")

    def do_where(self, arg: str) -> None:
        """where [full] [bt, w]: the call stack, innermost first; `full` adds locals."""
        frames = self.replay.frames()
        if not frames:
            self.out("(no call open here)")
            return
        for number, frame in enumerate(reversed(frames)):
            self.out(f"#{number} {self._frame_line(frame)}")
            if arg.strip() == "full" and frame.call.locals:
                for name, value in frame.call.locals.items():
                    self.out(f"     {name} = {format_value(value)}")

    def do_list(self, arg: str) -> None:
        """list [l]: source lines around the current point, when the file is readable."""
        frame = self._current_frame()
        if frame is None:
            return
        fn = frame.call.fn
        cwd = (self.replay.trace.header.get("process") or {}).get("cwd")
        path = _file_path(fn.file if fn else None, cwd)
        line = frame.line if frame.line is not None else (fn.line if fn else None)
        if path is None or line is None:
            self.error(f"no readable source for {frame.call.label}"
                       + (f" ({fn.file})" if fn is not None and fn.file else ""))
            return
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError as exc:
            self.error(f"cannot read {path}: {exc.strerror}")
            return
        first = max(line - LIST_CONTEXT, 1)
        self.out(self.style(f"{path}:{line}", dim=True))
        for number in range(first, min(line + LIST_CONTEXT, len(lines)) + 1):
            marker = "->" if number == line else "  "
            text = f"{number:5d} {marker} {lines[number - 1]}"
            self.out(self.style(text, bold=True) if number == line else text)

    def do_info(self, arg: str) -> None:
        """info: where the cursor is (the same line every move prints)."""
        self.show_location()

    def do_json(self, arg: str) -> None:
        """json: the state at the cursor as JSON (the shape of `replay --json`)."""
        write_json(self.replay.state(), self.stdout)

    def do_quit(self, arg: str) -> bool:
        """quit [q, exit, Ctrl-D]: leave the replay."""
        return True

    def do_EOF(self, arg: str) -> bool:
        if self.interactive:
            self.out()
        return True

    def help_EOF(self) -> None:
        self.out("Ctrl-D (end of input) leaves the replay.")


def _with_history(shell: ReplayShell) -> None:
    """Run the loop with readline history kept between sessions (when readline exists)."""
    try:
        import readline
    except ImportError:
        shell.cmdloop()
        return
    history = user_data_dir() / HISTORY_FILE
    try:
        readline.read_history_file(history)
    except OSError:
        pass
    readline.set_completer_delims(" \t\n")
    try:
        shell.cmdloop()
    finally:
        try:
            history.parent.mkdir(parents=True, exist_ok=True)
            readline.set_history_length(1000)
            readline.write_history_file(history)
        except OSError:
            pass


@click.command("replay")
@click.argument("ref", metavar="ID")
@click.option("--at", "at", type=int, default=None, metavar="N",
              help="Start at event number N (negative: from the end).")
@click.option("--time", "at_time", default=None, metavar="T",
              help="Start at the first event at or after T since the trace began "
                   "(1500, 2.5ms, 1s).")
@click.option("--exception", "at_exception", is_flag=True,
              help="Start at the first exception.")
@json_option
@spool_option
@click.pass_context
def command(ctx: click.Context, ref: str, at: int | None, at_time: str | None,
            at_exception: bool, as_json: bool, spool: Spool) -> None:
    """Step through a recorded trace, forwards and backwards.

    Commands: step, next, finish and their reverse-step, reverse-next, reverse-finish;
    goto N, time T, exception; break FN, continue, reverse-continue; print [NAME], args,
    locals, retval, where, list, json, help, quit. Pipe commands on stdin to run them as
    a script (`printf 'exception\\nwhere\\n' | orion replay @`); with --json, print the
    state at --at/--time/--exception and exit. Exit status 1 when a scripted command failed.
    """
    if sum(x is not None and x is not False for x in (at, at_time, at_exception)) > 1:
        raise OrionError("choose one of --at, --time and --exception")
    paths = resolve_many([ref], spool)
    if len(paths) != 1:
        raise OrionError(f"replay takes one trace, got {len(paths)}")
    try:
        replay = open_replay(paths[0])
        if at is not None:
            replay.goto(at)
        elif at_time is not None:
            replay.at_time(parse_time_ns(at_time))
        elif at_exception:
            replay.first_exception()
    except ReplayError as exc:
        raise OrionError(str(exc)) from None
    if as_json:
        write_json(replay.state(), sys.stdout)
        return
    interactive = sys.stdin.isatty()
    shell = ReplayShell(replay, sys.stdin, sys.stdout, sys.stderr, interactive,
                        colour=interactive and wants_colour(sys.stdout))
    if interactive:
        trace = replay.trace
        shell.out(f"Replaying {trace.summary.get('trace_id') or trace.path}: "
                  f"{len(replay.steps)} events on {len(trace.lanes)} lane(s). Type help.")
        shell.show_location()
        _with_history(shell)
    else:
        shell.cmdloop()
    if shell.failed and not interactive:
        ctx.exit(1)
