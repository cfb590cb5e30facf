"""`orion completion bash|zsh|fish`: print the shell completion script."""

from __future__ import annotations

import click

from ..docs import COMPLETION_FILES, SHELLS, complete, completion_script


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.option("--complete", "answer", is_flag=True, hidden=True,
              help="Print candidates for the words in COMP_WORDS (used by the script).")
def command(shell: str, answer: bool) -> None:
    """Print the completion script for SHELL: subcommands, options and trace ids.

    \b
    bash:  eval "$(orion completion bash)"   (in ~/.bashrc)
    zsh:   orion completion zsh > ~/.zfunc/_orion   (a directory on $fpath)
    fish:  orion completion fish > ~/.config/fish/completions/orion.fish
    """
    if answer:
        click.echo(complete(shell))
        return
    click.echo(completion_script(shell), nl=False)
