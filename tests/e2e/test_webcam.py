"""The camera, end to end, in headless Chromium with a fake camera: Chromium plays a prepared
video (--use-file-for-fake-video-capture) as the webcam, one video per class, so each class is
captured in a browser of its own and the set is found again on disk by the ?capture= link.
Then train on the two classes and predict a camera shot, timed against the 3-minute goal.
And with no camera at all, the pages say so rather than fail."""
import io
import re
import shutil
import time
import zipfile

import numpy as np
import pytest
from PIL import Image
from e2e.test_app import CHROMIUM, fill_train_form, shot, start_server, wait_idle

pytestmark = pytest.mark.e2e
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]
SHOTS_PER_CLASS = 6  # the least that gives each split an image is 3; 6 keeps 4 to train on
GOAL_S = 180


def write_y4m(path, frames, fps=30) -> None:
    """Frames (H, W, 3 uint8 RGB, even sides) as a YUV4MPEG2 4:2:0 video: a text header, then per
    frame the full-size Y plane and the half-size U and V planes (full-range BT.601, 'C420jpeg')."""
    h, w, _ = frames[0].shape
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
            v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
            fh.write(b"FRAME\n")
            for plane in (y, *(p.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)) for p in (u, v))):
                fh.write(np.clip(plane + 0.5, 0, 255).astype(np.uint8).tobytes())


def digit_video(path, digit: str, seconds: int = 4) -> None:
    """A printed digit of the built-in syndigits domain held in front of the camera: it drifts
    and the sensor is noisy, so no two frames are the same picture."""
    from tlcore.data import load_domain
    digits = load_domain("syndigits", per_class=1)
    face = np.asarray(Image.fromarray(digits.images[list(digits.labels).index(digits.class_names.index(digit))])
                      .resize((160, 160)))
    rng = np.random.default_rng(int(digit))
    frames = []
    for i in range(seconds * 30):
        frame = np.empty((180, 240, 3), np.uint8)
        frame[:] = face[0, 0]
        dx, dy = 20 + (i % 10) * 4, 4 + (i // 10 % 4) * 4  # wanders over the frame
        frame[dy:dy + 160, dx:dx + 160] = face
        frames.append(np.clip(frame + rng.integers(-8, 9, frame.shape), 0, 255).astype(np.uint8))
    write_y4m(path, frames)


@pytest.fixture(scope="module")
def playwright():
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, url = start_server(tmp_path_factory.mktemp("webcam"), TLSTUDIO_FEATURE_MAPS="off")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def camera_browser(playwright, video=None):
    """Chromium whose webcam plays ``video``; with None, Chromium without a camera or permission."""
    fake = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"] if video else []
    return playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS + fake)


def open_data_page(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(url)
    page.wait_for_selector("[data-testid=stSidebar]", timeout=60_000)
    wait_idle(page)
    return page


def class_count(page, name) -> int:
    found = re.search(rf"{name} · (\d+) pictures", page.locator("[data-testid=stMain]").inner_text())
    return int(found.group(1)) if found else 0


def take_shot(page, k: int) -> None:
    """Chromium's fake camera restarts its video each time the camera is opened (and the widget
    reopens it after every kept shot), so shots taken at the same moment after opening would be
    the same frame; a real camera never repeats. Waiting a little longer each time picks later frames."""
    button = page.get_by_test_id("stCameraInputButton")
    button.wait_for(timeout=30_000)
    page.wait_for_timeout(300 + 70 * k)
    button.click()
    wait_idle(page)


def add_class_and_shoot(page, name, shots):
    page.get_by_label("New class name").fill(name)
    page.get_by_role("button", name="Add class").click()
    wait_idle(page)
    for k in range(2 * shots):  # a shot refused (the same frame twice) is simply taken again
        if class_count(page, name) >= shots:
            break
        take_shot(page, k)
    assert class_count(page, name) == shots
    assert page.locator("[data-testid=stException]").count() == 0


def test_capture_two_classes_train_and_predict_a_shot_in_three_minutes(playwright, server, tmp_path):
    for digit in ("3", "7"):
        digit_video(tmp_path / f"{digit}.y4m", digit)
    start = time.perf_counter()
    first = camera_browser(playwright, tmp_path / "3.y4m")
    page = open_data_page(first, f"{server}/data")
    page.get_by_text("Camera", exact=True).click()
    wait_idle(page)
    add_class_and_shoot(page, "three", SHOTS_PER_CLASS)
    capture_url = page.url
    assert re.search(r"capture=[0-9a-f]{16}", capture_url)
    shot(page, "webcam_first_class")
    first.close()

    # Another browser (the next class's video): the link alone finds the set on disk.
    second = camera_browser(playwright, tmp_path / "7.y4m")
    page = open_data_page(second, capture_url)
    assert class_count(page, "three") == SHOTS_PER_CLASS
    add_class_and_shoot(page, "seven", SHOTS_PER_CLASS)
    # A bad shot of "seven" deleted by its button (the buttons go class by class), then one more taken.
    page.locator("[class*='st-key-ui-capture_drop_']").nth(SHOTS_PER_CLASS).get_by_role("button").first.click()
    wait_idle(page)
    assert class_count(page, "seven") == SHOTS_PER_CLASS - 1
    take_shot(page, SHOTS_PER_CLASS)
    assert class_count(page, "seven") == SHOTS_PER_CLASS
    with page.expect_download() as download:
        page.get_by_role("button", name="Download as a zip of class folders").click()
    names = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read())).namelist()
    assert sorted({n.split("/")[0] for n in names}) == ["seven", "three"] and len(names) == 2 * SHOTS_PER_CLASS
    page.get_by_role("button", name="Use these pictures as the target").click()
    page.get_by_text("Using the camera set").wait_for(timeout=60_000)
    wait_idle(page)
    assert f"target camera ({2 * SHOTS_PER_CLASS} pictures)" in page.locator("[data-testid=stMain]").inner_text()
    shot(page, "webcam_two_classes")

    page.locator("[data-testid=stSidebar]").get_by_role("link", name="Train", exact=True).click()
    page.wait_for_selector("text=Start training", timeout=60_000)
    wait_idle(page)
    # 8 training pictures: one step an epoch. At the default lr (1e-3) 10 steps left the model unsure
    # (0.6-0.9 on its own pictures); at 1e-2 it is sure (0.86-1.0), for the same 10 epochs.
    fill_train_form(page, epochs=10, per_class=0, image_size=64)
    lr = page.get_by_role("spinbutton", name="Learning rate", exact=True)
    lr.fill("0.01")
    lr.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Start training").click()
    page.wait_for_function("() => /finished/.test(document.body.innerText)", timeout=150_000)
    wait_idle(page)
    shot(page, "webcam_trained")

    page.locator("[data-testid=stSidebar]").get_by_role("link", name="Predict", exact=True).click()
    page.get_by_text("Use the camera").click(timeout=60_000)
    wait_idle(page)
    page.get_by_test_id("stCameraInputButton").click(timeout=30_000)
    page.get_by_text("camera shot →").wait_for(timeout=60_000)
    elapsed = time.perf_counter() - start
    wait_idle(page)
    shot(page, "webcam_predict")
    assert page.locator("[data-testid=stException]").count() == 0
    prediction = page.locator("[data-testid=stMain]").inner_text()
    second.close()
    print(f"webcam flow: {elapsed:.0f} s from an empty browser to a prediction;",
          re.findall(r"camera shot → .*", prediction))
    assert "camera shot → seven" in prediction  # the second browser's camera shows a seven
    assert elapsed < GOAL_S, elapsed


@pytest.mark.parametrize("camera", ["missing", "denied"])
def test_without_a_camera_the_pages_say_so_and_nothing_breaks(playwright, server, camera):
    """No camera at all, or one the user refuses: st.camera_input shows its own message and our
    hint sits under it; the Data page still builds classes. Predict is checked when the test
    above left a run on this server (it runs first in this file); alone, Predict has no run and
    so no camera."""
    args = [] if camera == "missing" else ["--use-fake-device-for-media-stream", "--deny-permission-prompts"]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS + args)
    try:
        page = open_data_page(browser, f"{server}/data?capture=..%2F..%2Fetc")
        page.get_by_text("Camera", exact=True).click()
        wait_idle(page)
        assert "capture-set id is not one" in page.locator("[data-testid=stMain]").inner_text()  # never a path
        page.get_by_label("New class name").fill("mug")
        page.get_by_role("button", name="Add class").click()
        wait_idle(page)
        check_no_camera_message(page)
        assert "mug · 0 pictures · 3 more needed" in page.locator("[data-testid=stMain]").inner_text()
        shot(page, f"webcam_{camera}_data")
        page.locator("[data-testid=stSidebar]").get_by_role("link", name="Predict", exact=True).click()
        page.wait_for_selector("h1:has-text('Predict')", timeout=60_000)
        wait_idle(page)
        if page.get_by_text("Use the camera").count():
            page.get_by_text("Use the camera").click()
            wait_idle(page)
            check_no_camera_message(page)
            shot(page, f"webcam_{camera}_predict")
        assert page.locator("[data-testid=stException]").count() == 0
    finally:
        browser.close()


def check_no_camera_message(page):
    widget = page.get_by_test_id("stCameraInput")
    widget.get_by_text("This app would like to use your camera").wait_for(timeout=30_000)  # Streamlit's own
    assert widget.get_by_test_id("stCameraInputButton").is_disabled()
    assert page.get_by_text("No picture? If the box above asks for access").count() == 1  # and our hint
    assert page.locator("[data-testid=stException]").count() == 0
