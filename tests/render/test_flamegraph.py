"""The SVG flame graph as a real renderer draws it (rsvg-convert), read back pixel by pixel."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from collections import Counter

import pytest
from click.testing import CliRunner

from orion.cli import cli
from orion.render.flamegraph import flame_svg

from ..export.sample import write_rich_trace

SVG = "{http://www.w3.org/2000/svg}"
needs_rsvg = pytest.mark.skipif(shutil.which("rsvg-convert") is None,
                                reason="rsvg-convert not installed (Debian: librsvg2-bin)")


def read_png(data: bytes) -> tuple[int, int, list[bytes], int]:
    """(width, height, unfiltered rows, bytes per pixel) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type = header[:4]
    assert depth == 8 and colour_type in (2, 6), header
    bpp = 3 if colour_type == 2 else 4
    raw, stride, rows = zlib.decompress(idat), width * bpp, []
    previous = bytes(stride)
    for y in range(height):
        offset = y * (stride + 1)
        kind, line = raw[offset], bytearray(raw[offset + 1:offset + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, rows, bpp


def pixel(png: tuple, x: float, y: float) -> tuple[int, int, int]:
    _, _, rows, bpp = png
    start = int(x) * bpp
    return tuple(rows[int(y)][start:start + 3])


def render(svg_path, tmp_path) -> tuple:
    target = tmp_path / "flame.png"
    subprocess.run(["rsvg-convert", "-o", str(target), str(svg_path)], check=True, timeout=60)
    return read_png(target.read_bytes())


def fill(rect) -> tuple[int, int, int]:
    return tuple(int(v) for v in re.findall(r"\d+", rect.get("fill")))


@needs_rsvg
def test_flame_graph_renders_with_frames_where_the_svg_puts_them(spool, tmp_path):
    write_rich_trace(spool)
    svg_path = tmp_path / "flame.svg"
    result = CliRunner().invoke(cli, ["graph", "@", "--flame", "-o", str(svg_path)])
    assert result.exit_code == 0, result.output
    root = ET.parse(svg_path).getroot()
    png = render(svg_path, tmp_path)
    assert png[:2] == (int(root.get("width")), int(root.get("height")))
    assert pixel(png, 2, 2) == (0xfd, 0xfd, 0xf6)  # the background
    frames = [r for r in root.iter(SVG + "rect") if r.get("data-stack") is not None
              and float(r.get("width")) >= 4]
    assert len(frames) >= 5
    for rect in frames:  # the middle of each frame wider than a few pixels has its colour
        x = float(rect.get("x")) + float(rect.get("width")) / 2
        y = float(rect.get("y")) + 2  # above the label's glyphs
        assert pixel(png, x, y) == fill(rect), rect.get("data-stack")


@needs_rsvg
def test_long_labels_are_clipped_to_their_frame(tmp_path):
    wide = "W" * 60  # wider than the label width estimate: clipping must catch it
    svg_path = tmp_path / "flame.svg"
    svg_path.write_text(flame_svg(Counter({("main",): 700, ("main", wide): 300}), "clip"))
    root = ET.parse(svg_path).getroot()
    png = render(svg_path, tmp_path)
    [frame] = [r for r in root.iter(SVG + "rect") if r.get("data-stack") == f"main;{wide}"]
    end = float(frame.get("x")) + float(frame.get("width"))
    y = float(frame.get("y")) + 9  # the height of the text
    assert pixel(png, end - 8, y) != (0xfd, 0xfd, 0xf6)  # inside the frame
    # Right of the frame (main's self time: nothing drawn at this level) stays background
    # all along where an unclipped label would have run on.
    assert all(pixel(png, x, y) == (0xfd, 0xfd, 0xf6) for x in range(int(end) + 2, 700))


def test_hover_titles_give_total_share_and_self_time():
    svg = flame_svg(Counter({("main",): 250, ("main", "work"): 750}))
    titles = [t.text for t in ET.fromstring(svg).iter(SVG + "title")]
    assert "main: 1.0µs (100.00%), self 250ns" in titles
    assert "work: 750ns (75.00%), self 750ns" in titles
