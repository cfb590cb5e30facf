"""The page in a real headless Chromium (Debian's chromium, driven by Playwright).

Screenshots are saved under the test's tmp dir (and copied to docs/images/ when
ORION_SCREENSHOTS=DIR is set, which is how docs/serve.md's pictures are made).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from orion.examples import checkout
from orion.serve.catalog import Catalog
from tests.conftest import run_orion, write_trace
from tests.serve.conftest import HOSTILE, start_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

playwright_api = pytest.importorskip("playwright.sync_api")
if not os.path.exists(CHROMIUM):
    pytest.skip("chromium is not installed (scripts/test installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, served, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.problems = problems
    yield page
    context.close()


def shoot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("ORION_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


def at_event(page, index: int) -> None:
    """Wait until the position line says the cursor is at event `index`."""
    playwright_api.expect(page.locator("#position")).to_have_text(re.compile(rf"^#{index} "))


def open_failing(page, served):
    page.goto(served.url)
    page.locator(f"#trace-list li[data-id='{served.failed_id}']").click()
    page.wait_for_selector("#stack li.frame")


def test_list_then_failing_trace_then_slider_back(page, served, tmp_path):
    page.goto(served.url)
    items = page.locator("#trace-list li")
    items.first.wait_for()
    assert items.count() == 3
    shoot(page, tmp_path, "list")
    open_failing(page, served)
    # Opens at the exception: the failing frame, highlighted, with its argument.
    assert page.locator("#position").inner_text().startswith("#7 ")
    frames = page.locator("#stack li.frame")
    assert frames.last.locator(".fn").inner_text() == "parse_percentage"
    assert frames.locator(".failing").count() == 0  # classes are on the li itself
    assert page.locator("#stack li.frame.failing").count() == 5
    assert '"15%X"' in page.locator("#values").inner_text()
    shoot(page, tmp_path, "trace-at-exception")
    # Drag the slider to the left end, then a little right: load_cart's call.
    slider = page.locator("#slider")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.1, y, steps=5)
    page.mouse.up()
    at_event(page, 1)
    assert page.locator("#stack li.frame").last.locator(".fn").inner_text() == "load_cart"
    assert '"cart.json"' in page.locator("#values").inner_text()
    assert "at=1" in page.url
    shoot(page, tmp_path, "slider-back")
    # The keyboard: step forward into the return of load_cart, then to the exception.
    page.locator("#slider").focus()
    page.keyboard.press("ArrowRight")
    at_event(page, 2)
    assert "return value" in page.locator("#values").inner_text()
    page.keyboard.press("e")
    at_event(page, 7)
    page.keyboard.press("Shift+ArrowUp")  # reverse-finish: where parse_percentage was called
    at_event(page, 6)
    assert not page.problems


def test_timeline_zooms_and_clicks_go_to_a_call(page, served):
    open_failing(page, served)
    info = page.locator("#timeline-info")
    playwright_api.expect(info).to_contain_text("showing 0 ns – 63.0 µs")
    box = page.locator("#timeline").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + 20)
    for _ in range(3):
        page.mouse.wheel(0, -100)  # zoom in around the pointer
    playwright_api.expect(info).not_to_contain_text("showing 0 ns – 63.0 µs")
    page.locator("#timeline rect.span").filter(
        has=page.locator("title", has_text="compute_total")).click()
    at_event(page, 4)
    assert page.locator("#stack li.frame").last.locator(".fn").inner_text() == "compute_total"
    assert not page.problems


def test_opening_another_trace_leaves_nothing_of_the_first(page, served):
    w = served.spool.open_writer(language="python", mode="dev")  # nothing to replay
    w.close(status="ok")
    open_failing(page, served)
    page.locator(f"#trace-list li[data-id='{w.trace_id}']").click()
    playwright_api.expect(page.locator("#timeline-info")).to_contain_text("cannot replay")
    assert page.locator("#stack").inner_text() == "(no stack to show)"
    assert page.locator("#values").inner_text() == ""
    assert page.locator("#timeline rect").count() == 0
    assert all("422" in problem for problem in page.problems)  # the replay refused: no events


def test_deep_link_opens_at_the_position(page, served):
    page.goto(f"{served.url}trace/{served.failed_id}?at=4")
    at_event(page, 4)
    assert page.locator("#stack li.frame").last.locator(".fn").inner_text() == "compute_total"
    # A link to the diff tab: the trace opens while the list loads, and the diff follows
    # once the list has given it a trace to compare with.
    page.goto(f"{served.url}trace/{served.failed_id}?tab=diff")
    page.wait_for_selector("#first-divergence")
    assert not page.problems


def test_diff_tab(page, served, tmp_path):
    open_failing(page, served)
    page.locator("#tabs button[data-tab=diff]").click()
    page.locator("#diff-other").select_option(served.ok_id)
    page.wait_for_selector("#first-divergence")
    text = page.locator("#diff").inner_text()
    assert "first divergence" in text
    assert served.ok_id[:12] in text
    assert page.locator(".diff-table tr").count() > 1
    assert "call only in A" in page.locator("pre.side-by-side").inner_text()  # orion diff -y
    assert "tab=diff" in page.url
    shoot(page, tmp_path, "diff")
    assert not page.problems


def test_diff_of_two_real_runs_is_two_trees_side_by_side(page, served, tmp_path):
    """The bundled checkout program recorded by the real agent with a good coupon and a
    bad one: the diff shows both call trees, the failing parse_percentage marked."""
    program = tmp_path / "checkout.py"  # outside orion's package, which is not traced
    shutil.copy(Path(checkout.__file__), program)
    ids = []
    for coupon in ("SAVE15", "SAVE15%X"):
        done = run_orion("run", "--mode", "dev", "--", sys.executable, str(program),
                         "--coupon", coupon, env={"ORION_SPOOL": str(served.spool.path)})
        ids.append(re.search(r"trace ([0-9a-f]{32})", done.stderr).group(1))
    page.goto(f"{served.url}trace/{ids[0]}?tab=diff")
    page.locator("#diff-other").select_option(ids[1])
    first = page.locator("#first-divergence-row")
    first.wait_for()
    assert re.match(r'parse_percentage\(text="15"\)\s+→ 15', first.locator("td.a").inner_text())
    assert "✖ ValueError" in first.locator("td.b").inner_text()
    tree = page.locator(".diff-tree")
    assert "compute_total" in tree.locator("tr.row-changed").first.inner_text() or \
        "process_order" in tree.locator("tr.row-changed").first.inner_text()
    assert tree.locator("tr.row-folded").count() >= 1  # the unchanged genexpr calls
    playwright_api.expect(first).to_be_in_viewport()
    shoot(page, tmp_path, "diff-tree")
    assert not page.problems


def test_diff_of_a_crash_shows_the_calls_it_left_open(page, served):
    crashed = served.spool.open_writer(language="c", mode="dev")
    ended = served.spool.open_writer(language="c", mode="dev")
    for w in (crashed, ended):
        lane = w.lane("main")
        w.call(10, lane, w.function("main", None, "shop.c", 5), w.encode_pairs({}))
    ended.ret(20, lane, 0)
    crashed.crash(20, crashed.lane("main"), "signal", "SIGSEGV", "killed by SIGSEGV")
    crashed.close(status="crashed")
    ended.close(status="ok")
    page.goto(f"{served.url}trace/{crashed.trace_id}?tab=diff")
    page.locator("#diff-other").select_option(ended.trace_id)
    row = page.locator("#first-divergence-row")
    playwright_api.expect(row.locator("td.a")).to_contain_text("still running")
    playwright_api.expect(row.locator("td.b")).to_contain_text("main()  → 0")
    assert not page.problems


def test_graph_and_flame_tabs(page, served, tmp_path):
    open_failing(page, served)
    page.locator("#tabs button[data-tab=graph]").click()
    page.wait_for_selector("#graph g.node")
    assert page.locator("#graph g.node").count() == 6
    assert page.locator("#graph g.node.error").count() == 5  # load_cart returned
    page.locator("#graph g.node", has_text="process_order").click()
    detail = page.locator("#graph-node").inner_text()
    assert "process_order" in detail and "calls checkout:compute_total" in detail
    shoot(page, tmp_path, "graph")
    page.locator("#graph-scope").select_option("listed")  # every trace the list shows
    playwright_api.expect(page.locator("#graph-info")).to_contain_text("3 trace(s) merged")
    # checkout's main (failed) and app's main (the ok run): two nodes, named with their module
    for name in ("checkout:main · 1×", "app:main · 1×"):
        assert page.locator("#graph g.node", has_text=name).count() == 1
    assert page.locator("#graph g.node", has_text="step2").count() == 1
    page.locator("#graph g.node", has_text="parse_percentage").click()
    page.locator("#graph-node li.link").first.click()  # a trace it failed in
    playwright_api.expect(page.locator("#stack li.frame").last).to_contain_text(
        "parse_percentage")
    page.locator("#tabs button[data-tab=flame]").click()
    page.wait_for_selector(".flame-bar")
    assert "checkout:parse_percentage" in page.locator("#flame").inner_text()
    shoot(page, tmp_path, "flame")
    page.locator("#tabs button[data-tab=env]").click()
    assert "‹redacted›" in page.locator("#env").inner_text()
    assert not page.problems


def test_a_new_trace_appears_without_reload(page, served, tmp_path):
    page.goto(served.url)
    page.locator("#trace-list li").first.wait_for()
    page.wait_for_selector("#live-state.on")
    page.evaluate("window.sameDocument = true")
    path = write_trace(served.spool, root="fresh_run", exception=("KeyError", "'id'"),
                       status="failed")
    new_id = path.rsplit("-", 1)[1].split(".")[0]
    page.wait_for_selector(f"#trace-list li.fresh[data-id='{new_id}']", timeout=15_000)
    assert page.evaluate("window.sameDocument") is True  # no reload happened
    assert "fresh_run" in page.locator("#trace-list li").first.inner_text()
    shoot(page, tmp_path, "live")
    assert not page.problems


def test_an_open_trace_that_grows_is_followed_without_reload(page, served):
    w = served.spool.open_writer(language="python", mode="dev")
    lane = w.lane("MainThread")
    step = w.function("step", "app", "app.py", 1)
    w.call(10, lane, step, w.encode_pairs({"n": 1}))
    w.flush()
    page.goto(f"{served.url}trace/{w.trace_id}")
    page.wait_for_selector("#live-state.on")
    playwright_api.expect(page.locator("#position")).to_have_text(re.compile(r"^#0 / 0 "))
    w.ret(20, lane, 1)
    w.call(30, lane, step, w.encode_pairs({"n": 2}))
    w.flush()
    playwright_api.expect(page.locator("#position")).to_have_text(re.compile(r"^#0 / 2 "),
                                                                  timeout=15_000)
    page.keyboard.press("ArrowDown")  # over the first call: to its return, then on
    at_event(page, 1)
    page.keyboard.press("ArrowDown")
    at_event(page, 2)
    assert '2' in page.locator("#values").inner_text()
    w.close(status="ok")
    assert not page.problems


def test_hostile_strings_stay_text(page, served, tmp_path):
    page.goto(f"{served.url}trace/{served.hostile_id}")
    page.wait_for_selector("#stack li.frame")
    assert HOSTILE in page.locator("#summary").inner_text()
    assert json.dumps(HOSTILE) in page.locator("#values").inner_text()  # shown quoted
    assert HOSTILE in page.locator("#trace-list").inner_text()
    page.keyboard.press("ArrowLeft")  # back to the return of the call named in HTML
    at_event(page, 2)
    assert json.dumps(HOSTILE) in page.locator("#values").inner_text()  # its return value
    assert HOSTILE in page.locator("#stack").inner_text()
    assert HOSTILE in page.locator("#timeline").text_content()
    for tab, selector in (("graph", "#graph g.node"), ("flame", ".flame-bar"),
                          ("env", "#env table")):
        page.locator(f"#tabs button[data-tab={tab}]").click()
        page.wait_for_selector(selector)
    assert HOSTILE in page.locator("#flame").inner_text()
    assert page.evaluate("window.pwned") is None
    assert page.locator("#main img, #list-pane img, #main script").count() == 0
    shoot(page, tmp_path, "hostile")
    assert not page.problems


def test_captured_values_of_every_kind_read_as_orion_show_writes_them(page, served):
    w = served.spool.open_writer(language="python", mode="dev")
    lane = w.lane("MainThread")
    fn = w.function("paint", "shapes", "shapes.py", 1)
    w.call(10, lane, fn, w.encode_pairs({
        "point": {"t": "Point", "fields": {"x": 1, "y": 2}},
        "deep": {"t": "dict", "elided": True, "len": 3},
        "widget": {"t": "Widget", "text": "<Widget at 0x7f00>"},
        "broken": {"t": "Bad", "error": "boom"},
        "pair": {"t": "tuple", "items": [1, "a"]}}))
    w.ret(20, lane, None)
    w.close(status="ok")
    page.goto(f"{served.url}trace/{w.trace_id}?at=0")
    at_event(page, 0)
    shown = page.locator("#values").inner_text()
    for text in ("Point(x=1, y=2)", "<dict of 3>", "<Widget at 0x7f00>",
                 "<Bad: repr failed: boom>", '(1, "a")'):
        assert text in shown
    assert not page.problems


def test_off_loopback_the_token_link_opens_the_page(browser, served):
    server = start_server(Catalog(served.spool), host="0.0.0.0", token="t0ken-for-test")
    context = browser.new_context()
    try:
        page = context.new_page()
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        assert page.goto(base).status == 403
        page.goto(base + "?token=t0ken-for-test")  # sets the cookie the page's requests use
        page.locator("#trace-list li").first.wait_for()
        assert page.locator("#trace-list li").count() == 3
        page.wait_for_selector("#live-state.on")  # the event stream is let in too
    finally:
        context.close()
        server.shutdown()
        server.server_close()


def test_a_long_list_comes_a_page_at_a_time(page, served):
    for _ in range(500):
        write_trace(served.spool)
    page.goto(served.url)
    page.locator("#more").wait_for()
    assert page.locator("#trace-list li").count() == 500
    page.locator("#more").click()
    playwright_api.expect(page.locator("#trace-list li")).to_have_count(503)
    assert page.locator("#more").count() == 0
