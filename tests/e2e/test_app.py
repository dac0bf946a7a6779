"""The real app in headless Chromium (Debian's /usr/bin/chromium, never a downloaded one).

Each page is opened by its direct URL on a freshly started server and must show the
shared sidebar; uploads go through the real file widget. Screenshots land in
test-artifacts/ for a person to look at.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import hostile_files as h

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("TLSTUDIO_CHROMIUM", "/usr/bin/chromium")
PAGES = {"": "TL Studio", "data": "Data", "backbones": "Backbones"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log_dir):
    port = free_port()
    log = open(log_dir / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
         f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
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


@pytest.fixture
def fresh_server(tmp_path):
    """A server no browser has talked to yet: a direct link must still get the full app."""
    proc, url = start_server(tmp_path)
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


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
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


@pytest.mark.parametrize("path", list(PAGES))
def test_each_page_by_direct_url_shows_the_shared_sidebar(fresh_server, browser, path):
    page = open_page(browser, f"{fresh_server}/{path}")
    sidebar = page.locator("[data-testid=stSidebar]")
    assert "Demo pair" in sidebar.inner_text() and "efficientnet_lite0" in sidebar.inner_text()
    assert "Training device" in sidebar.inner_text()
    links = page.locator("[data-testid=stSidebar] [data-testid=stPageLink]").all_inner_texts()
    assert [ln.split()[-1] for ln in links] == ["Home", "Data", "Backbones"]  # nothing auto-discovered
    assert page.locator("[data-testid=stSidebarNav]").count() == 0  # Streamlit's own nav stays hidden
    assert page.locator("[data-testid=stDialog]").count() == 0  # no "Page not found"
    assert page.locator("h1").first.inner_text().strip() == PAGES[path]
    assert page.locator("[data-testid=stException]").count() == 0
    shot(page, f"page_{path or 'home'}")
    page.close()


def test_home_shows_the_demo_without_upload(server, browser):
    page = open_page(browser, server)
    text = page.locator("[data-testid=stMain]").inner_text()
    assert "Source: mnist" in text and "Target: syndigits" in text and "ready" in text
    assert page.locator("[data-testid=stImage]").count() >= 20
    page.close()


def upload_zip(page, tmp_path, name, data):
    page.get_by_text("Upload a zip").click()
    wait_idle(page)
    path = tmp_path / name
    path.write_bytes(data)
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(path))
    page.wait_for_selector("[data-testid=stMetric], [data-testid=stAlert]", timeout=60_000)
    wait_idle(page)


def test_good_zip_upload_shows_report(server, browser, tmp_path):
    page = open_page(browser, f"{server}/data")
    members = {**h.good_members(("cat", "dog"), 4), "dog/broken.jpg": b"", "dog/.DS_Store": b"x"}
    upload_zip(page, tmp_path, "pets.zip", h.zip_of(members))
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
    shot(page, f"data_upload_{name.split('.')[0]}")
    # The server is still fine: another page still renders.
    assert urllib.request.urlopen(server + "/_stcore/health", timeout=5).read() == b"ok"
    page.close()
