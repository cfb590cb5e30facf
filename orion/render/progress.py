"""A progress bar for commands that work through many files, shown only to a person.

The bar goes to stderr and only when stderr is a terminal, so pipes, logs and tests see
nothing but the command's real output.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator, Sequence, TypeVar

import click

T = TypeVar("T")

MIN_ITEMS = 5  # fewer items finish before a bar would help


@contextmanager
def progress(items: Sequence[T], label: str) -> Iterator[Iterator[T]]:
    """Iterate `items`, with a bar on stderr when it is a terminal and there are many."""
    if len(items) < MIN_ITEMS or not sys.stderr.isatty():
        yield iter(items)
        return
    with click.progressbar(items, label=label, file=sys.stderr, show_pos=True) as bar:
        yield iter(bar)
