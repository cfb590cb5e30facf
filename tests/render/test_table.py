"""Output helpers shared by commands: when to colour."""

from __future__ import annotations

import io
import os
import pty

import pytest

from orion.render.table import wants_colour


def test_colour_on_a_terminal_unless_no_color_or_asked(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as terminal:
            assert wants_colour(terminal) is True
            monkeypatch.setenv("NO_COLOR", "1")
            assert wants_colour(terminal) is False
            assert wants_colour(terminal, explicit=True) is True
    finally:
        os.close(leader)
        os.close(follower)
    assert wants_colour(io.StringIO()) is False


@pytest.mark.parametrize("explicit", [True, False])
def test_an_explicit_choice_wins_in_a_pipe(explicit):
    assert wants_colour(io.StringIO(), explicit) is explicit
