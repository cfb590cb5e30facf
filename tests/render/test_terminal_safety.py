"""Hostile text in a trace never acts on the terminal: every human output escapes it.

One trace holds the same hostile string in every place a program can put text: function,
module and file names, a lane name, argv, an environment value, a captured argument, a
return value, local variables, an exception message, a crash message and an event. The
string retitles the terminal (OSC 0 ... BEL), clears it (CSI 2 J), plants a hyperlink
(OSC 8), reverses text (U+202E) and holds a NUL. Each human output must show it escaped;
JSON keeps it exact; DOT and SVG escape it per their grammars.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from orion.render.safe import Style, escape, terminal
from orion.spool import Spool

from ..conftest import invoke

HOSTILE = ("\x1b]0;pwned\x07\x1b[2J\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
           "\u202eevil\x00end")
SHOWN = escape(HOSTILE)  # what a person sees instead
# Anything that acts on a terminal: C0 but newline, DEL, C1, bidi controls, separators.
ACTIVE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                    "\u202a-\u202e\u2066-\u2069]")
OUR_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def write_hostile(spool: Spool, variant: str = "") -> str:
    w = spool.open_writer(
        language="python", mode="dev",
        process={"pid": 7, "argv": ["prog", "--name", HOSTILE], "cwd": "/tmp",
                 "executable": "/usr/bin/prog", "host": "box"},
        env={"os": "Linux", "runtime": "CPython 3.11", "vars": {"GREETING": HOSTILE}})
    lane = w.lane(HOSTILE + variant)
    main = w.function("main", "app", "app.py", 1)
    evil = w.function(HOSTILE, HOSTILE, HOSTILE + ".py", 5)
    w.call(10, lane, main, w.encode_pairs({}))
    for i in range(2):
        w.call(20 + i * 10, lane, evil, w.encode_pairs({"text": HOSTILE + variant, HOSTILE: 1}))
        w.ret(25 + i * 10, lane, w.encode_value(HOSTILE))
    w.event(50, lane, "log", {"message": HOSTILE})
    w.call(60, lane, evil, w.encode_pairs({"text": HOSTILE}))
    w.exception(61, lane, "ValueError", HOSTILE, line=6)
    w.unwind(62, lane, 6, w.encode_pairs({"local": HOSTILE}))
    w.unwind(63, lane, 2, w.encode_pairs({}))
    w.crash(64, lane, "uncaught", "ValueError" + HOSTILE, HOSTILE)  # the summary's type
    w.close(status="failed", exit_code=1)
    return str(w.path)


@pytest.fixture
def hostile(spool) -> tuple[str, str]:
    return write_hostile(spool), write_hostile(spool, variant="2")


def assert_safe(text: str, colour: bool = False) -> None:
    if colour:
        text = OUR_COLOUR.sub("", text)
    found = ACTIVE.search(text)
    assert found is None, f"{found.group()!r} printed raw at {text[max(found.start() - 60, 0):found.end() + 20]!r}"


def run(*args: str, input: str | None = None, expect_shown: bool = True) -> str:
    result = invoke(*args, input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "internal error" not in result.stderr, result.stderr
    out = result.stdout + result.stderr
    assert_safe(out, colour="--colour" in args)
    if expect_shown:  # (long cells are clipped before the U+202E in tables)
        assert "\\x1b]0;pwned\\x07\\x1b[2J" in out, out[:2000]
    return out


def test_show(hostile):
    out = run("show", "--all", hostile[0])
    for place in ("command", "environment", "GREETING=", "✗ crash", "✗ ValueError"):
        assert place in out
    assert SHOWN in out  # whole, so the hyperlink's text and its target are both visible


def test_list_table_and_status(hostile):
    run("list", "--format", "table")
    run("status")


def test_diff_plain_side_by_side_and_coloured(hostile):
    for options in ([], ["--side-by-side"], ["--colour"], ["--side-by-side", "--colour"]):
        run("diff", *options, *hostile)


def test_replay(hostile):
    run("replay", hostile[0], input="exception\nwhere\nargs\nlocals\nprint\nretval\n"
                                    "step\nstep\nlist\n")


def test_fingerprint_explain(hostile):
    run("fingerprint", "--explain", hostile[0])


def test_an_error_quoting_the_trace(hostile):
    out = run("show", "--lane", "nosuch", hostile[0])
    assert "no lane 'nosuch'" in out


def test_graph_dot(hostile):
    out = run("graph", "--format", "dot", hostile[0], expect_shown=False)
    assert '"' + SHOWN.replace("\\", "\\\\") in out  # a DOT string: backslashes doubled


def test_flame_graph_svg_is_well_formed_xml(hostile, tmp_path):
    svg = tmp_path / "flame.svg"
    run("graph", "--flame", "-o", str(svg), hostile[0], expect_shown=False)
    text = svg.read_text("utf-8")
    assert_safe(text)
    labels = "".join(ET.fromstring(text).itertext())  # XML forbids NUL and most C0
    assert "\\x1b]0:pwned\\x07" in labels and "\\u202eevil\\x00end" in labels  # `;`: `:`


def test_folded_export(hostile):
    out = run("export", "--format", "folded", "-o", "-", hostile[0], expect_shown=False)
    assert "\\x1b]0:pwned\\x07" in out and "\\u202eevil\\x00end" in out  # `;` is `:` there
    assert all(re.fullmatch(r"[^\n]+ \d+", line) for line in out.splitlines())


def test_json_stays_exact(hostile):
    result = invoke("cat", hostile[0])
    texts = [r["text"] for r in map(json.loads, result.stdout.splitlines())
             if r["type"] == "string"]
    assert HOSTILE in texts
    shown = json.loads(invoke("show", "--json", hostile[0]).stdout)
    assert shown["header"]["process"]["argv"][-1] == HOSTILE


def test_colour_comes_only_from_style():
    line = Style(True)("ok", fg="green") + " " + HOSTILE + " " + Style(True)("x", bold=True)
    shown = terminal(line)
    assert shown.startswith("\x1b[32mok\x1b[0m ") and shown.endswith("\x1b[1mx\x1b[0m")
    assert_safe(shown, colour=True)
    assert SHOWN in shown
    assert terminal(Style(False)("ok", fg="green")) == "ok"


@pytest.mark.parametrize("char,shown", [
    ("\x1b", "\\x1b"), ("\x00", "\\x00"), ("\x07", "\\x07"), ("\n", "\\n"), ("\t", "\\t"),
    ("\r", "\\r"), ("\x7f", "\\x7f"), ("\x9b", "\\x9b"), ("\u202e", "\\u202e"),
    ("\u2066", "\\u2066"), ("\u200f", "\\u200f"), ("\u2028", "\\u2028"), ("\ud800", "\\ud800"),
    ("é", "é"), ("→", "→"), ("日本", "日本"), ("\u200d", "\u200d")])
def test_escape(char, shown):
    """Controls and bidi characters are escaped; printable text, accents, CJK and the zero
    width joiner of emoji sequences are not."""
    assert escape(f"a{char}b") == f"a{shown}b"


def test_show_on_a_real_terminal_prints_only_its_own_colours(hostile, spool):
    """On a terminal, colour is on: the only sequences that reach it are our SGR ones."""
    import os
    import pty
    import subprocess
    import sys

    from ..conftest import read_until_closed

    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    process = subprocess.Popen([sys.executable, "-m", "orion", "show", hostile[0]],
                               stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    shown = read_until_closed(leader).decode()
    process.wait(timeout=60)
    assert OUR_COLOUR.search(shown), "colour is on on a terminal"
    assert_safe(shown.replace("\r\n", "\n"), colour=True)
    assert "\\x1b]0;pwned\\x07" in shown
