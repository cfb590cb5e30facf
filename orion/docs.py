"""Man pages and shell completions, generated from the click definitions of the commands.

`scripts/gen-docs` writes them into man/ and completions/; tests/test_docs.py fails when a
checked-in file differs from what this module generates, so help text and docs never drift.

Completion uses click's machinery (its bash, zsh and fish scripts and its resolution of
subcommands and options) with one change: the scripts ask `orion completion --complete
SHELL` for candidates, so that arguments taking trace references complete trace ids from
the spool.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import click
from click.shell_completion import (BashComplete, CompletionItem, FishComplete, ShellComplete,
                                    ZshComplete, _resolve_context, _resolve_incomplete)

from . import __version__
from .options import complete_trace_ids

PROG = "orion"
MANUAL = "Orionis manual"
SHELLS = ("bash", "zsh", "fish")
COMPLETION_FILES = {"bash": "orion.bash", "zsh": "_orion", "fish": "orion.fish"}


# -- completion ------------------------------------------------------------------------

TRACE_ARGUMENTS = frozenset({"ref", "refs", "traces"})


def takes_trace_ids(param: click.Parameter) -> bool:
    """Arguments that take trace references: named refs (the convention), or ID in the
    metavar."""
    return isinstance(param, click.Argument) and (param.name in TRACE_ARGUMENTS
                                                  or "ID" in (param.metavar or ""))


class _TraceIds(ShellComplete):
    """Mixin: trace ids for trace-reference arguments, click's candidates elsewhere."""

    invocation = ""  # how click's script calls the program, replaced by ours

    def get_completions(self, args: list[str], incomplete: str) -> list[CompletionItem]:
        ctx = _resolve_context(self.cli, self.ctx_args, self.prog_name, args)
        obj, incomplete = _resolve_incomplete(ctx, args, incomplete)
        if isinstance(obj, click.Parameter) and takes_trace_ids(obj):
            return complete_trace_ids(ctx, obj, incomplete)
        return obj.shell_complete(ctx, incomplete)

    def source(self) -> str:
        script = super().source()
        ours = script.replace(self.invocation % self.source_vars(),
                              f"{self.prog_name} completion --complete {self.name}")
        if ours == script:  # click changed its template: fail loudly, not silently
            raise RuntimeError(f"cannot adapt click's {self.name} completion script")
        return ours


class Bash(_TraceIds, BashComplete):
    invocation = "%(complete_var)s=bash_complete $1"


class Zsh(_TraceIds, ZshComplete):
    invocation = "%(complete_var)s=zsh_complete %(prog_name)s"


class Fish(_TraceIds, FishComplete):
    invocation = "env %(complete_var)s=fish_complete COMP_WORDS=(commandline -cp) " \
                 "COMP_CWORD=(commandline -t) %(prog_name)s"

    def source(self) -> str:
        # fish passes the words as variables after `env`: keep them, change the program.
        # Split "type,value<TAB>help" at the first comma only: help texts have commas.
        script = ShellComplete.source(self)
        edits = {self.invocation % self.source_vars():
                 "env COMP_WORDS=(commandline -cp) COMP_CWORD=(commandline -t) "
                 f"{self.prog_name} completion --complete fish",
                 '(string split "," $completion)': '(string split -m 1 "," $completion)'}
        for old, new in edits.items():
            if old not in script:
                raise RuntimeError("cannot adapt click's fish completion script")
            script = script.replace(old, new)
        return script


_CLASSES: dict[str, type[ShellComplete]] = {"bash": Bash, "zsh": Zsh, "fish": Fish}


def _completer(shell: str) -> ShellComplete:
    from .cli import cli

    return _CLASSES[shell](cli, {}, PROG, "_ORION_COMPLETE")


def completion_script(shell: str) -> str:
    """The script that, sourced by `shell`, completes orion's commands, options and ids."""
    return _completer(shell).source().rstrip("\n") + "\n"


def complete(shell: str) -> str:
    """Candidates for the command line in COMP_WORDS/COMP_CWORD (set by the script)."""
    return _completer(shell).complete()


# -- man pages -------------------------------------------------------------------------

def _roff(text: str) -> str:
    """Escape text for roff: backslashes, and control characters at line starts."""
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def _opt(text: str) -> str:
    return _roff(text).replace("-", "\\-")


def _paragraphs(help_text: str | None) -> list[str]:
    """Help text as roff paragraphs; a click "\\b" paragraph keeps its line breaks."""
    out = []
    for block in inspect.cleandoc(help_text or "").split("\n\n"):
        block = block.strip("\n")
        if not block:
            continue
        if block.startswith("\b"):
            out.append(".nf\n" + _roff(block[1:].strip("\n")) + "\n.fi")
        else:
            out.append(_roff(" ".join(line.strip() for line in block.splitlines())))
    return out


def _options(command: click.Command, ctx: click.Context) -> list[str]:
    lines = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None or getattr(param, "hidden", False):
            continue
        names, text = record
        if isinstance(param, click.Argument) and not text:
            continue  # click 8.5 lists arguments too; without help they only repeat SYNOPSIS
        lines += [".TP", f"\\fB{_opt(names)}\\fR", _roff(text) or "\\&"]
    return lines


def _usage(command: click.Command, ctx: click.Context) -> str:
    return " ".join(command.collect_usage_pieces(ctx))


def _visible_subcommands(group: click.Group, ctx: click.Context) -> list[tuple[str, click.Command]]:
    found = []
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            found.append((name, sub))
    return found


def _header(page: str, short: str) -> list[str]:
    return [f'.TH {page.upper()} 1 "" "{PROG} {__version__}" "{MANUAL}"', ".SH NAME",
            f"{_opt(page)} \\- {_roff(short)}"]


def command_page(name: str, command: click.Command, parent: click.Context) -> str:
    """The man page of `orion NAME` (subcommands of a group get a subsection each)."""
    ctx = click.Context(command, info_name=name, parent=parent, **command.context_settings)
    path = f"{PROG} {name}"
    lines = _header(f"{PROG}-{name}", command.get_short_help_str(limit=200))
    lines += [".SH SYNOPSIS", f"\\fB{_opt(path)}\\fR {_roff(_usage(command, ctx))}",
              ".SH DESCRIPTION"]
    for i, paragraph in enumerate(_paragraphs(command.help)):
        lines += ([".PP"] if i else []) + [paragraph]
    options = _options(command, ctx)
    if options:
        lines += [".SH OPTIONS", *options]
    if isinstance(command, click.Group):
        lines.append(".SH COMMANDS")
        for sub_name, sub in _visible_subcommands(command, ctx):
            sub_ctx = click.Context(sub, info_name=sub_name, parent=ctx, **sub.context_settings)
            lines += [f".SS {_opt(path + ' ' + sub_name)}",
                      f"\\fB{_opt(path + ' ' + sub_name)}\\fR {_roff(_usage(sub, sub_ctx))}"]
            for paragraph in _paragraphs(sub.help):
                lines += [".PP", paragraph]
            lines += _options(sub, sub_ctx)
    lines += [".SH SEE ALSO", f"\\fB{PROG}\\fR(1)"]
    return "\n".join(lines) + "\n"


def main_page() -> str:
    """man/orion.1: the tool, its global options, and every command."""
    from .cli import COMMANDS, cli

    ctx = click.Context(cli, info_name=PROG, **cli.context_settings)
    lines = _header(PROG, "record what programs did, then list, show, replay and compare it")
    lines += [".SH SYNOPSIS", f"\\fB{PROG}\\fR {_roff(_usage(cli, ctx))}", ".SH DESCRIPTION"]
    for i, paragraph in enumerate(_paragraphs(cli.help)):
        lines += ([".PP"] if i else []) + [paragraph]
    lines += [".SH OPTIONS", *_options(cli, ctx), ".SH COMMANDS"]
    for name in cli.list_commands(ctx):
        lines += [".TP", f"\\fB{_opt(PROG + '-' + name)}\\fR(1)", _roff(COMMANDS[name][1])]
    lines += [
        ".SH ENVIRONMENT",
        ".TP", "\\fBORION_SPOOL\\fR",
        "The spool directory, after \\fB\\-\\-spool\\fR; else the nearest .orion/spool "
        "upwards, else the user data directory.",
        ".TP", "\\fBORION_MODE\\fR",
        "Capture mode of traced processes (dev, safe, error), or off.",
        ".TP", "\\fBORION_DEBUG\\fR",
        "Set to 1 to see a traceback instead of a one-line error.",
        ".SH EXIT STATUS",
        "0 on success; 1 for a negative answer (traces differ, validation failed, nothing "
        "matched); 2 for a usage or input error.",
        ".SH SEE ALSO",
        ", ".join(f"\\fB{_opt(PROG + '-' + name)}\\fR(1)" for name in cli.list_commands(ctx)),
    ]
    return "\n".join(lines) + "\n"


def generated_files() -> dict[str, str]:
    """Every generated file, by path relative to the repository root."""
    from .cli import cli

    ctx = click.Context(cli, info_name=PROG, **cli.context_settings)
    files = {"man/orion.1": main_page()}
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        if command is not None:
            files[f"man/{PROG}-{name}.1"] = command_page(name, command, ctx)
    for shell in SHELLS:
        files[f"completions/{COMPLETION_FILES[shell]}"] = completion_script(shell)
    return files


def stale_files(root: Path, wanted: dict[str, str] | None = None) -> list[str]:
    """Generated files under `root` that are missing, out of date, or no longer generated."""
    wanted = generated_files() if wanted is None else wanted
    stale = [path for path, text in wanted.items()
             if not (root / path).is_file() or (root / path).read_text() != text]
    for directory in ("man", "completions"):
        for existing in sorted((root / directory).glob("*")) if (root / directory).is_dir() else ():
            rel = f"{directory}/{existing.name}"
            if rel not in wanted:
                stale.append(rel)
    return stale


def write_files(root: Path) -> list[str]:
    """Write every generated file under `root`, remove retired ones; return what changed."""
    wanted = generated_files()
    changed = stale_files(root, wanted)
    for rel in changed:
        path = root / rel
        if rel in wanted:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wanted[rel])
        else:
            path.unlink()
    return changed


if __name__ == "__main__":
    import sys

    here = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    for rel in write_files(here):
        print(f"updated {rel}")
