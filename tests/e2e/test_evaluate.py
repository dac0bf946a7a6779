"""The Evaluate page clicked as a user would, in headless Chromium, on two real runs of the demo
trained from the CLI (the same data and seed, so the same test images; 1 epoch vs 3): a
confusion-matrix cell clicked lists its images, an empty one says so, the select box picks the
same without a mouse; the per-class table sorts by a header click; the two runs compared image
by image show what per_image computes from their prediction files."""
import json
import os
import re
import subprocess
import sys
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.e2e.test_app import ROOT, browser, open_page, shot, start_server, wait_idle  # noqa: F401 - a fixture
from tlcore.runs import RunStore
from tlcore.runs.per_image import compare_runs, confusion_cells
from tlcore.runs.read import target_test_predictions

pytestmark = pytest.mark.e2e
DEMO = ["--target", "syndigits", "--per-class", "30", "--img-size", "32", "--seed", "0"]  # 40 test images
# The plotly figure holding the heatmap, tagged (anew after each rerun) so a locator finds its
# cell markers; returns the counts the cells show (their text: what a user reads) and the
# outline's (x0, y0).
MATRIX = """() => { for (const p of document.querySelectorAll('.js-plotly-plot'))
    if ((p.data || [])[0]?.type === 'heatmap') {
        p.id = 'confusion'; const outline = (p.layout.shapes || [])[0];
        return {counts: p.data[0].text.map(row => row.map(v => parseInt(v.replace(',', '')))),
                outline: outline ? [outline.x0, outline.y0] : null};
    } return null; }"""
COMPARED = re.compile(r"^A \S+ → B \S+, on the same")  # the caption over the two runs compared
ROWS = "g => [...g.querySelectorAll('table tbody tr')].map(r => [...r.querySelectorAll('td')].map(c => c.innerText))"


def train(runs_dir, name, epochs):
    log = open(runs_dir.parent / f"train_{name}.log", "w")  # a file, not a pipe: a full pipe would block it
    return subprocess.Popen([sys.executable, "-m", "tlcore", "train", *DEMO, "--epochs", str(epochs), "--name", name,
                             "--runs-dir", str(runs_dir)], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=log, stderr=subprocess.STDOUT)


def train_two_runs(runs_dir) -> dict[str, str]:
    """The longer run first, so the quick one is the newest: Compare's A by default. Both start
    at once; the heavy slot lets one train at a time, their start-ups overlap."""
    longer = train(runs_dir, "longer", 3)
    store, deadline = RunStore(runs_dir), time.time() + 60
    while not store.list_runs() and time.time() < deadline:
        time.sleep(0.2)
    quick = train(runs_dir, "quick", 1)
    for name, proc in (("longer", longer), ("quick", quick)):
        assert proc.wait(timeout=180) == 0, (runs_dir.parent / f"train_{name}.log").read_text()[-3000:]
    return {r.name: r.id for r in store.list_runs()}


def matrix(page) -> dict:
    """The confusion figure's counts and outline, once plotly has drawn it (it renders after the rerun ends)."""
    return page.wait_for_function(MATRIX, timeout=30_000).json_value()


def matrix_marker(page, t, p, n):
    """The invisible marker over cell (true t, predicted p): Streamlit reports clicks on it."""
    matrix(page)  # each rerun draws a new figure: tag it
    return page.locator("#confusion .scatterlayer .point").nth(t * n + p)


def click(page, locator):
    # At the marker's centre, as a mouse would; forced: plotly's drag layer on top takes the event.
    locator.click(force=True)
    wait_idle(page)


def wait_outline(page, t, p):
    """Until the figure outlines cell (t, p): plotly redraws it just after the rerun."""
    outline = json.dumps([p - 0.5, t - 0.5], separators=(",", ":"))  # as JSON.stringify writes it
    page.wait_for_function(f"() => JSON.stringify(({MATRIX})()?.outline) === '{outline}'", timeout=30_000)


def assert_cell_images(page, n):
    """The chosen cell lists n images (waited for: the images arrive just after the rerun's text)."""
    js = f"() => document.querySelectorAll('.st-key-eval_cell_images img').length === {n}"
    try:
        page.wait_for_function(js, timeout=15_000)
    except PlaywrightTimeout:
        pass  # the assertion below says what was there instead
    assert page.locator(".st-key-eval_cell_images img").count() == n


def assert_no_exception(page):
    assert page.locator("[data-testid=stException]").count() == 0


def test_evaluate_cells_per_class_and_two_runs_image_by_image(browser, tmp_path):  # noqa: F811 - the fixture
    runs_dir = tmp_path / "runs"
    proc, url = start_server(tmp_path, runs_dir=runs_dir)  # starts while the runs train
    try:
        ids = train_two_runs(runs_dir)
        store = RunStore(runs_dir)
        predictions = target_test_predictions(store, ids["quick"])
        page = open_page(browser, f"{url}/evaluate?run={ids['quick']}", height=3600)
        page.get_by_text(COMPARED).wait_for(timeout=60_000)  # the page's last section: all of it is drawn
        wait_idle(page)
        check_a_clicked_cell_lists_its_images(page, predictions)
        check_the_per_class_table_sorts(page)
        check_two_runs_image_by_image(page, store)
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def check_a_clicked_cell_lists_its_images(page, predictions):
    cells, n = confusion_cells(predictions), len(predictions["class_names"])
    z = matrix(page)["counts"]
    assert {(t, p): k for t, p, k in cells} == {(t, p): z[t][p] for t in range(n) for p in range(n) if z[t][p]}
    default = cells[0]  # the most frequent confusion, chosen before any click
    assert_cell_images(page, default[2])
    t, p, count = max(cells[1:], key=lambda c: c[2])  # another cell, with the most images
    click(page, matrix_marker(page, t, p, n))
    picker = page.locator("[data-testid=stSelectbox]", has_text="Cell").locator("input")
    expect(picker).to_have_value(re.compile(f"^true {t} → predicted {p} · {count} image"))  # the box follows
    assert count == z[t][p]
    assert_cell_images(page, count)
    wait_outline(page, t, p)  # the clicked cell outlined
    assert_no_exception(page)
    shot(page, "evaluate_cell_clicked")
    empty = next((t, p) for t in range(n) for p in range(n) if not z[t][p])
    click(page, matrix_marker(page, *empty, n))
    expect(page.locator(".st-key-eval_cell_images")).to_contain_text("this cell is empty")
    assert_cell_images(page, 0)
    # Without the mouse: the select box picks a cell, and the matrix outlines it.
    picker.click()
    page.locator("[role=option]", has_text=f"true {default[0]} → predicted {default[1]} ·").first.click()
    wait_idle(page)
    expect(picker).to_have_value(re.compile(f"^true {default[0]} → predicted {default[1]} ·"))
    assert_cell_images(page, default[2])
    wait_outline(page, *default[:2])
    assert_no_exception(page)


def check_the_per_class_table_sorts(page):
    grid = page.locator(".st-key-eval_per_class [data-testid=stDataFrame]")
    rows = grid.evaluate(ROWS)  # the grid is a canvas; its accessible table holds the cells' text
    f1 = [float(r[3]) for r in rows]
    assert f1 == sorted(f1) and len(rows) == 10  # worst F1 first, compared as numbers
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 20, box["y"] + 17)  # the "class" header, the first column
    before = [r[0] for r in rows]
    page.wait_for_function(f"([g, before]) => ({ROWS})(g).map(r => r[0]).join() !== before",
                           arg=[grid.element_handle(), ",".join(before)], timeout=10_000)
    assert [r[0] for r in grid.evaluate(ROWS)] == sorted(before)  # sorted in the browser, no rerun
    assert_no_exception(page)


def check_two_runs_image_by_image(page, store):
    section = page.get_by_text(COMPARED)
    section.scroll_into_view_if_needed()
    a_id, b_id = re.match(r"A (\S+) → B (\S+?),", section.inner_text()).groups()
    assert {store.get(a_id).name, store.get(b_id).name} == {"quick", "longer"}
    _, _, diff = compare_runs(store, a_id, b_id)
    shown = {label: int(page.locator("[data-testid=stMetric]", has_text=label)
                        .locator("[data-testid=stMetricValue]").inner_text().replace(",", ""))
             for label in ("Fixed by B", "Broken by B", "Right in both", "Wrong in both")}
    assert shown == {"Fixed by B": len(diff.fixed), "Broken by B": len(diff.broken),
                     "Right in both": len(diff.both_right), "Wrong in both": len(diff.both_wrong)}
    assert page.locator(".st-key-eval_fixed_images img").count() == len(diff.fixed)
    assert page.locator(".st-key-eval_broken_images img").count() == len(diff.broken)
    assert_no_exception(page)
    shot(page, "evaluate_compare")
