"""The `orion` command group: lazy subcommand loading and the one place errors become exits.

Subcommands live one per module in orion/commands/ and are imported only when used, so
`orion --help` and `orion list` start fast. Every user-facing error (a bad id, a corrupt
file, a malformed option) is printed as one line with exit status 2; set ORION_DEBUG=1 to
see the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from . import __version__
from .errors import debug_enabled, error_report

# name -> (module under orion.commands, one-line help shown by `orion --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("list", "List traces in the spool, newest first."),
    "show": ("show", "Show a trace: summary, environment and call tree."),
    "cat": ("cat", "Print every record of a trace as JSON lines (plumbing)."),
    "validate": ("validate", "Check traces against the schema and the format's rules."),
    "export": ("export", "Write traces as otrace, chrome, otlp, jaeger, folded, parquet..."),
    "import": ("import_", "Validate trace files and add them to the spool."),
    "clean": ("clean", "Delete traces from the spool."),
    "config": ("config", "Get, set and list configuration values."),
    "demo": ("demo", "Record the bundled example program failing, then show its trace."),
    "graph": ("graph", "Draw call, module and service graphs, and flame graphs."),
    "replay": ("replay", "Step through a trace forwards and backwards, like a debugger."),
    "diff": ("diff", "Compare two traces by structure: where they diverge and what differs."),
    "serve": ("serve", "Serve a read-only web view of the spool: list, timeline, replay, diff."),
    "fingerprint": ("fingerprint", "Structural and failure fingerprints of traces."),
    "run": ("run", "Run a command with capture on (Python, C, C++); print its traces."),
    "start": ("start", "Turn on capture for every new Python process of this user."),
    "stop": ("stop", "Turn off the capture that `orion start` turned on."),
    "init": ("init", "Set up .orion/ in this project and show the next steps."),
    "test": ("test", "Run a test command under capture; summarise failing tests' traces."),
    "status": ("status", "Whether capture is on, the spool, and the newest failures."),
    "doctor": ("doctor", "Check the installation and say how to fix each problem."),
    "watch": ("watch", "Re-run a command under capture on every change; show what changed."),
    "hook": ("hook", "Install or remove git hooks that run the tests under capture."),
    "completion": ("completion", "Print the shell completion script for bash, zsh or fish."),
}


class CommandError(click.ClickException):
    """Shown as `orion: error: ...` with exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        from .render.safe import terminal  # the message may quote a trace: escape it

        click.echo(terminal(f"orion: error: {self.format_message()}"), err=True, file=file)


class UsageLine(click.UsageError):
    """A usage error as one line naming the command, like every other error (exit 2).

    click's own form takes four lines (usage, a hint, a blank line, the error).
    """

    def show(self, file=None) -> None:
        ctx = self.ctx
        where = ctx.command_path if ctx is not None else "orion"
        hint = f" (see {where} --help)" if ctx is not None and ctx.help_option_names else ""
        from .render.safe import terminal

        click.echo(terminal(f"{where}: error: {self.format_message().rstrip('.')}{hint}"),
                   err=True, file=file)


def _context_of(exc: click.UsageError) -> click.Context | None:
    """The context of the command whose arguments were wrong.

    click's parser raises some errors (an option missing its value) with no context; the
    context being made for the command is then the innermost `ctx` in the traceback.
    """
    if exc.ctx is not None:
        return exc.ctx
    ctx, tb = None, exc.__traceback__
    while tb is not None:
        found = tb.tb_frame.f_locals.get("ctx")
        if isinstance(found, click.Context):
            ctx = found
        tb = tb.tb_next
    return ctx


def one_line(exc: click.UsageError) -> click.UsageError:
    """`exc` as a UsageLine; a bare `orion` or `orion config` still shows the help."""
    if isinstance(exc, (UsageLine, click.exceptions.NoArgsIsHelpError)):
        return exc
    return UsageLine(exc.format_message(), _context_of(exc))


class OrionGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"orion.commands.{COMMANDS[name][0]}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        try:  # the group's own options: `orion --bogus`
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise one_line(exc) from None

    def invoke(self, ctx: click.Context):
        try:  # every subcommand's parsing and callbacks run in here
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise one_line(exc) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt,
                BrokenPipeError):
            raise
        except Exception as exc:  # OrionError, an unreadable trace, or a bug: one line
            if debug_enabled():
                raise
            message, status = error_report(exc)
            error = CommandError(message)
            error.exit_code = status
            raise error from None


@click.group(cls=OrionGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="orion")
@click.option("--spool", metavar="DIR", default=None,
              help="Spool directory for every command (a command's own --spool wins).")
@click.option("--full-names", is_flag=True,
              help="Show C++ names whole, template arguments included (default: shortened "
                   "as uftrace shows them, std::vector::push_back); as ORION_DEMANGLE=full.")
def cli(spool: str | None, full_names: bool) -> None:
    """Orionis: record what programs did, then list, show, replay and compare it.

    Traces are .otrace files in a spool directory; every command reads them by id,
    unique id prefix, path, '@' (newest) or '@~N', or '-' (ids on standard input).
    """
    if full_names:  # read where native names are resolved (orion.native.symbols)
        os.environ["ORION_DEMANGLE"] = "full"


def main(argv: list[str] | None = None) -> int:
    try:
        # Without standalone mode, click returns ctx.exit(N)'s status instead of raising.
        status = cli.main(args=argv, prog_name="orion", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`orion list | head`): not an error, but stop writing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return status if isinstance(status, int) else 0
