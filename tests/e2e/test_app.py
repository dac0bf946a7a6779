"""The real app in headless Chromium (Debian's /usr/bin/chromium, never a downloaded one).

Each page is opened by its direct URL on a freshly started server and must show the
shared sidebar; uploads go through the real file widget. Screenshots land in
test-artifacts/ for a person to look at.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import hostile_files as h
import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("TLSTUDIO_CHROMIUM", "/usr/bin/chromium")
PAGES = {"": "TL Studio", "data": "Data", "feasibility": "Feasibility", "model": "Model", "train": "Train",
         "features": "Features", "evaluate": "Evaluate", "predict": "Predict", "learn": "Learn"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log_dir, runs_dir=None, **env_vars):
    port = free_port()
    env = dict(os.environ, TLSTUDIO_RUNS_DIR=str(runs_dir or log_dir / "runs"), TLSTUDIO_MAX_JOBS="1", **env_vars)
    log = open(log_dir / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
         f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start")
    return proc, url


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, url = start_server(tmp_path_factory.mktemp("server"))
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("TLSTUDIO_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


def open_page(browser, url, height=1000):
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.goto(url)
    page.wait_for_selector("[data-testid=stSidebar]", timeout=60_000)
    wait_idle(page)
    return page


def wait_idle(page):
    page.wait_for_timeout(500)
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=120_000)
    page.wait_for_timeout(500)


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_each_page_by_direct_url_on_a_fresh_server_shows_the_shared_sidebar(browser, tmp_path):
    """One fresh server per page, asked for nothing but that page's URL. Two at a time (the
    first render imports torch: two cores do two of those side by side). Home is left to
    test_home_shows_the_demo_without_upload, the first page its fresh server serves."""
    paths = [p for p in PAGES if p]
    for pair in (paths[i:i + 2] for i in range(0, len(paths), 2)):
        servers = {}
        for path in pair:
            (tmp_path / (path or "home")).mkdir()
            servers[path] = start_server(tmp_path / (path or "home"))
        try:
            pages = {}
            for path, (_, url) in servers.items():
                pages[path] = browser.new_page(viewport={"width": 1400, "height": 1000})
                pages[path].goto(f"{url}/{path}", wait_until="commit")
            for path, page in pages.items():
                check_direct_page(page, path)
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=20)


def check_direct_page(page, path):
    page.wait_for_selector("[data-testid=stSidebar]", timeout=90_000)
    wait_idle(page)
    sidebar = page.locator("[data-testid=stSidebar]").inner_text()
    assert "Device:" in sidebar and "efficientnet_lite0" in sidebar, path
    links = page.locator("[data-testid=stSidebar] [data-testid=stPageLink]").all_inner_texts()
    # Our links, in order, and nothing auto-discovered from pages/shared.
    assert [ln.split()[-1] for ln in links] == ["Home", "Data", "Feasibility", "Model", "Train", "Features", "Evaluate",
                                                "Predict", "Learn"], path
    assert page.locator("[data-testid=stSidebarNav]").count() == 0, path  # Streamlit's own nav stays hidden
    assert page.locator("[data-testid=stDialog]").count() == 0, path  # no "Page not found"
    assert page.locator("h1").first.inner_text().strip() == PAGES[path]
    assert page.locator("[data-testid=stException]").count() == 0, path
    shot(page, f"page_{path or 'home'}")
    page.close()


def test_home_shows_the_demo_without_upload(server, browser):
    page = open_page(browser, server)
    text = page.locator("[data-testid=stMain]").inner_text()
    assert "Source: mnist" in text and "Target: syndigits" in text and "ready" in text
    assert page.locator("[data-testid=stImage]").count() >= 20
    check_direct_page(page, "")  # the first page this fresh server serves: the sidebar is right


def test_feasibility_check_of_the_demo_in_one_click(server, browser):
    """The default demo, the page's default settings: one click, the progress, the verdict,
    then one suspect dropped through its picker and the decision shown as recorded."""
    page = open_page(browser, f"{server}/feasibility", height=2000)  # the suspects' pickers in view
    page.get_by_role("button", name="Run the feasibility check").click()
    page.wait_for_selector("[data-testid=stProgress]", timeout=60_000)  # progress while the job works
    page.get_by_text("Best backbone").wait_for(timeout=240_000)
    # The page's last line: the whole report has been drawn (the status widget can lag).
    page.get_by_text(re.compile(r"held out\) at \d+ px; took")).wait_for(timeout=60_000)
    wait_idle(page)
    main = page.locator("[data-testid=stMain]")
    text = main.inner_text()
    for expected in ("linear head on frozen", "Accuracy now", "With 2x the labels", "Suspect labels", "Domain gap",
                     "Review the suspect labels", "A-distance"):
        assert expected in text, expected
    assert page.locator("[data-testid=stException]").count() == 0
    assert main.locator("[data-testid=stImage]").count() >= 6  # the suspects' pictures
    shot(page, "feasibility_report")
    picker = main.locator("[data-testid=stSelectbox] input").first
    assert picker.input_value() == "keep"
    picker.click()
    page.locator("[role=option]", has_text=re.compile(r"^drop$")).first.click()
    page.get_by_text("1 label decision recorded").wait_for(timeout=60_000)
    wait_idle(page)
    for tab in ("Learning curve", "Backbones", "Domain gap"):
        page.get_by_role("tab", name=tab).click()
        wait_idle(page)
        assert page.locator("[data-testid=stException]").count() == 0, tab
    assert main.locator("[data-testid=stPlotlyChart]").count() >= 1  # the learning curve
    shot(page, "feasibility_tabs")
    page.close()


def upload_zip(page, tmp_path, name, data):
    page.get_by_text("Upload my images").click()
    wait_idle(page)
    path = tmp_path / name
    path.write_bytes(data)
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(path))
    page.wait_for_selector("[data-testid=stAlertContentSuccess], [data-testid=stAlertContentError]",
                           timeout=60_000)
    wait_idle(page)


def test_good_zip_upload_shows_report(server, browser, tmp_path):
    page = open_page(browser, f"{server}/data")
    members = {**h.good_members(("cat", "dog"), 4), "dog/broken.jpg": b"", "dog/.DS_Store": b"x"}
    upload_zip(page, tmp_path, "pets.zip", h.zip_of(members))
    assert "Using pets.zip: 8 images in 2 classes" in page.locator("[data-testid=stAlert]").first.inner_text()
    assert "Training on: target pets.zip" in page.locator("[data-testid=stMain]").inner_text()
    metrics = [m.inner_text() for m in page.locator("[data-testid=stMetricValue]").all()]
    assert metrics == ["8", "2", "2"]  # images, classes, skipped files (the grid itself is a canvas)
    page.wait_for_selector("[data-testid=stDataFrame]", timeout=30_000)  # the skipped-files table
    assert page.locator("[data-testid=stImage]").count() == 2  # a thumbnail strip per class
    assert page.locator("[data-testid=stException]").count() == 0
    shot(page, "data_upload_ok")
    page.close()


@pytest.mark.parametrize("name, make, message", [
    ("slip.zip", h.zip_slip, "climbs out"),
    ("bomb.zip", lambda: h.zip_bomb(256), "zip bomb"),
    ("corrupt.zip", h.zip_corrupt_directory, "not a valid zip"),
    ("one_class.zip", lambda: h.zip_of(h.good_members(("cat",), 4)), "only one class"),
])
def test_hostile_zip_upload_shows_the_error_in_the_page(server, browser, tmp_path, name, make, message):
    page = open_page(browser, f"{server}/data")
    upload_zip(page, tmp_path, name, make())
    alert = page.locator("[data-testid=stAlert]")
    assert message in alert.first.inner_text()
    assert page.locator("[data-testid=stException]").count() == 0
    # Nothing else changed: the demo target is still the one a run would use.
    assert "Training on: target syndigits" in page.locator("[data-testid=stMain]").inner_text()
    shot(page, f"data_upload_{name.split('.')[0]}")
    # The server is still fine: another page still renders.
    assert urllib.request.urlopen(server + "/_stcore/health", timeout=5).read() == b"ok"
    page.close()


def fill_train_form(page, epochs, per_class, image_size):
    """Type a small configuration into the Train page's number fields (as a user would)."""
    page.get_by_text("Data and run settings").click()
    for label, value in (("Epochs", epochs), ("Images per class (0: all)", per_class), ("Image size (px)", image_size)):
        field = page.get_by_role("spinbutton", name=label, exact=True)
        field.fill(str(value))
        field.press("Enter")
        wait_idle(page)


# Points of the loss chart's first trace ("train loss (per step)"), read from the live figure.
LOSS_POINTS = """() => {
    for (const p of document.querySelectorAll('.js-plotly-plot')) {
        const t = (p.data || []).find(t => t.name === 'train loss (per step)');
        if (t) return t.x.length;
    }
    return 0; }"""


def check_features_page_while_a_layout_is_computed(page):
    page.locator("[data-testid=stSidebar]").get_by_text("Features").click()
    page.wait_for_selector("text=Before transfer (epoch 0)", timeout=60_000)
    # The layout process is still compiling. The note is drawn just after the heading, in
    # the same rerun: waited for, not read at once (a read between the two failed here).
    page.wait_for_selector("text=PCA for now", timeout=10_000)
    t0 = time.perf_counter()
    page.locator("[data-testid=stMain] button").filter(has_text=re.compile("^Class$")).click()
    page.wait_for_selector(".legend >> text=7", timeout=30_000)  # the map redrawn by class
    responded = time.perf_counter() - t0
    assert page.locator("text=PCA for now").count() > 0, "the layout finished before the click was answered"
    assert responded < 15, responded  # measured 0.5-2 s here (benchmarks/feature_map.py)
    assert page.locator("[data-testid=stException]").count() == 0
    shot(page, "features_live")


def test_train_the_demo_watch_it_live_refresh_and_evaluate(tmp_path, browser):
    """Start a short run of the default demo from the browser, see the loss chart gain points
    while it trains, reload the page mid-run and find the same run still live, then see
    its evaluation. On the way, the Features page: its map is drawn (PCA) the moment the
    first snapshot's features exist, and stays usable while the UMAP layout is computed.
    An empty numba cache makes that layout take 20-40 s (compilation), so the test's click
    surely lands while a snapshot is being computed."""
    proc, url = start_server(tmp_path, TLSTUDIO_FEATURE_MAPS="on", NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    try:
        page = open_page(browser, f"{url}/train")
        main = page.locator("[data-testid=stMain]")
        assert "Target syndigits" in main.inner_text().replace("`", "")
        fill_train_form(page, epochs=3, per_class=60, image_size=48)
        page.get_by_role("button", name="Start training").click()
        # The chart grows live: watched at once, while most of the run is still ahead (with
        # the trunk cache the whole run takes about 20 s here, less than the Features detour).
        page.wait_for_function(f"() => ({LOSS_POINTS})() > 0", timeout=90_000)
        first = page.evaluate(LOSS_POINTS)
        page.wait_for_function(f"() => ({LOSS_POINTS})() > {first}", timeout=60_000)
        assert "run=" in page.url
        shot(page, "train_live")
        check_features_page_while_a_layout_is_computed(page)
        page.locator("[data-testid=stSidebar]").get_by_role("link", name="Train", exact=True).click()
        page.wait_for_function(f"() => ({LOSS_POINTS})() > 0", timeout=60_000)
        # A refresh mid-run shows the same run, still live.
        run_url = page.url
        page.reload()
        page.wait_for_selector("[data-testid=stSidebar]", timeout=60_000)
        page.wait_for_function("() => /Shown: step/.test(document.body.innerText)", timeout=60_000)
        assert page.url == run_url
        text = page.locator("[data-testid=stMain]").inner_text()
        assert "running" in text or "finished" in text
        page.wait_for_function("() => /finished/.test(document.body.innerText)", timeout=180_000)
        wait_idle(page)
        assert page.locator("[data-testid=stException]").count() == 0
        shot(page, "train_finished")
        page.get_by_text("See the full evaluation").click()
        page.wait_for_selector("text=Misclassified test images", timeout=60_000)
        wait_idle(page)
        assert page.locator("[data-testid=stMetric]").count() >= 3
        assert page.locator("[data-testid=stException]").count() == 0
        shot(page, "evaluate")
        # Predict with the run's best checkpoint, through the real file widget.
        page.locator("[data-testid=stSidebar]").get_by_text("Predict").click()
        page.wait_for_selector("[data-testid=stFileUploaderDropzoneInput]", state="attached", timeout=60_000)
        from PIL import Image

        from tlcore.data import load_domain
        digits = load_domain("syndigits", per_class=1)  # a printed 7 from the demo domain
        digit = tmp_path / "printed_7.png"
        Image.fromarray(digits.images[list(digits.labels).index(digits.class_names.index("7"))]).save(digit)
        page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(digit))
        page.wait_for_selector("text=printed_7.png →", timeout=60_000)
        wait_idle(page)
        assert page.locator("[data-testid=stException]").count() == 0
        shot(page, "predict")
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        # The UMAP code this test compiled, for the tests after it (see conftest).
        shutil.copytree(tmp_path / "numba", os.environ["NUMBA_CACHE_DIR"], dirs_exist_ok=True)


def test_find_the_best_recipe_shows_the_leaderboard_live_and_the_winner(tmp_path, browser):
    """Press 'Find the best recipe' for the demo with a small budget: the leaderboard appears
    while candidates train, then the winner with its test accuracy; the run it leaves is an
    ordinary run (Evaluate shows it)."""
    proc, url = start_server(tmp_path, TLSTUDIO_FEATURE_MAPS="off")
    try:
        page = open_page(browser, f"{url}/train")
        fill_train_form(page, epochs=3, per_class=30, image_size=32)
        page.get_by_text("Find the best recipe").first.click()
        budget = page.get_by_role("spinbutton", name="Time budget (seconds)")
        budget.fill("40")
        budget.press("Enter")
        wait_idle(page)
        assert "linear head" in page.locator("[data-testid=stMain]").inner_text()  # the stated candidates
        page.get_by_role("button", name="Find the best recipe").click()
        page.wait_for_function("() => /Trying recipes/.test(document.body.innerText)", timeout=90_000)
        # The leaderboard itself, once the first candidate reports (a canvas grid: its cells are not DOM text).
        page.wait_for_selector(".st-key-search_leaderboard [data-testid=stDataFrame]", timeout=60_000)
        shot(page, "search_live")
        page.wait_for_function("() => /Winner:/.test(document.body.innerText)", timeout=180_000)
        wait_idle(page)
        text = page.locator("[data-testid=stMain]").inner_text()
        assert "target test accuracy" in text and "before transfer" in text
        assert page.locator("[data-testid=stException]").count() == 0
        shot(page, "search_done")
        page.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # once in CI the server, mid-rerun, took longer to stop
            proc.kill()
            proc.wait(timeout=20)
