"""orion.entry's click-free `orion run` parser agrees with the click command it stands in
for: the same options, and the same parameters for every command line it accepts; what it
is unsure of goes to click."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from orion.commands.run import command as run_command
from orion.entry import MODES, RUN_OPTIONS, parse_run


def test_the_fast_parser_knows_exactly_the_click_command_s_options():
    declared = {}
    for param in run_command.params:
        if not isinstance(param, click.Option):
            continue
        kind = "flag" if param.is_flag else "multiple" if param.multiple else "value"
        for flag in (*param.opts, *param.secondary_opts):
            declared[flag] = (param.name, kind)
    assert RUN_OPTIONS == declared
    mode = next(param for param in run_command.params if param.name == "mode")
    assert tuple(mode.type.choices) == MODES


LINES = [
    ["--", "true"],
    ["true"],
    ["python", "app.py", "--mode", "safe"],  # the command's own options stay its own
    ["--mode", "error", "--", "pytest", "-x"],
    ["--mode=safe", "--sample", "5%", "-v", "make"],
    ["--include", "a", "--include=b", "--exclude", "c", "--", "x"],
    ["--include-func", "shop_*", "--exclude-func=ns::*", "./a.out"],
    ["--spool", "/tmp/s", "--mode", "dev", "--mode", "error", "--", "-", "--"],
    ["--verbose", "--sample=", "--", "--mode"],
]


@pytest.mark.parametrize("args", LINES, ids=" ".join)
def test_what_it_accepts_it_parses_as_click_does(args):
    fast = parse_run(args)
    assert fast is not None
    with run_command.make_context("run", list(args)) as ctx:
        expected = dict(ctx.params)
    assert {**fast, "command": tuple(fast["command"])} == expected


@pytest.mark.parametrize("args", [
    [], ["--"], ["--help"], ["-h"], ["--mode", "bogus", "--", "x"], ["--mode"],
    ["--bogus", "x"], ["-vv", "x"], ["--verbose=yes", "x"], ["--include", "--", "x"],
    ["--mod", "dev", "x"],
])
def test_what_it_is_unsure_of_goes_to_click(args):
    assert parse_run(args) is None


def test_a_malformed_run_still_gets_click_s_one_line_usage_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "orion", "run", "--mode", "bogus", "--", "true"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("orion run: error: Invalid value for '--mode'")
    assert len(done.stderr.splitlines()) == 1
