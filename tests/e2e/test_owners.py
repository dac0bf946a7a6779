"""A class on one server, in two browser contexts (two students, two sessions): ann starts a
run; bob sees only his own runs by default, ann's one switch away, may look at it but not
stop it; once he unlocks the teacher password, he can.

The test holds the server's one heavy slot itself, so ann's run stays live (its worker
waits for the slot) for as long as the test needs, and never trains."""
import os
import signal

import pytest
from e2e.test_app import browser, fill_train_form, shot, start_server, wait_idle  # noqa: F401 - browser: a fixture

from tlcore.jobs import heavy_slot
from tlcore.runs import RunStore

pytestmark = pytest.mark.e2e
TEACHER = "let-me-stop-it"


def student(browser, url, name, headers=None):  # noqa: F811 - browser: the fixture imported above
    """A new browser context (its own cookies, its own Streamlit session) on the Train page,
    with ``name`` typed into the sidebar. The caller closes its context."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}, extra_http_headers=headers).new_page()
    open_as(page, f"{url}/train", name)
    return page


def open_as(page, url, name):
    """Open ``url`` and type ``name`` (a new page load is a new session: it asks again)."""
    page.goto(url)
    page.wait_for_selector("[data-testid=stSidebar]", timeout=60_000)
    wait_idle(page)
    box = page.locator("[data-testid=stSidebar]").get_by_role("textbox", name="Your name")
    box.fill(name)
    box.press("Enter")
    page.wait_for_function(f"() => document.body.innerText.includes('You are {name} (typed, not verified)')",
                           timeout=30_000)
    wait_idle(page)


def test_two_students_see_their_own_runs_and_only_a_teacher_stops_anothers(tmp_path, browser, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TLSTUDIO_MAX_JOBS", "1")
    runs_dir = tmp_path / "runs"
    proc, url = start_server(tmp_path, runs_dir, TLSTUDIO_TEACHER_PASSWORD=TEACHER, TLSTUDIO_STANDBY="0",
                             TLSTUDIO_FEATURE_MAPS="off")
    store = RunStore(runs_dir)
    try:
        with heavy_slot(runs_dir):
            ann = student(browser, url, "ann")
            fill_train_form(ann, epochs=1, per_class=10, image_size=32)
            ann.get_by_role("button", name="Start training").click()
            ann.locator("[data-testid=stMain]").get_by_role("button", name="Stop", exact=True).wait_for(timeout=60_000)
            [run] = store.list_runs()
            # The error (with the worker log's tail) says why, should the worker ever die here.
            assert run.owner == "ann" and run.status == "running", (run.status, run.error)
            assert ann.locator("[data-testid=stMain]").get_by_role("button", name="Stop", exact=True).is_enabled()

            # Bob also claims to be ann in the proxy's header: no proxy is declared, so it is ignored.
            bob = student(browser, url, "bob", headers={"X-Forwarded-User": "ann"})
            main = bob.locator("[data-testid=stMain]")
            assert run.id not in main.inner_text()  # "my runs": bob has none
            assert "1 of others hidden" in main.inner_text()
            shot(bob, "owners_mine")
            bob.get_by_text("Everyone's runs", exact=True).click()
            wait_idle(bob)
            shot(bob, "owners_everyone")
            runs_box = bob.get_by_role("combobox", name="Show run")
            runs_box.wait_for(timeout=30_000)
            shown = runs_box.input_value() or runs_box.inner_text()
            assert run.id in shown and shown.endswith("· ann"), shown  # the runs list: ann's run, hers
            # Bob opens ann's run: he may look at it, not stop it.
            open_as(bob, f"{url}/train?run={run.id}", "bob")
            stop = main.get_by_role("button", name="Stop", exact=True)
            stop.wait_for(timeout=60_000)
            wait_idle(bob)
            assert stop.is_disabled() and "Started by ann" in main.inner_text()
            stop.locator("xpath=..").hover()  # the tooltip of a disabled button says whose run it is
            bob.get_by_text("ann's run: only they or a teacher").wait_for(timeout=10_000)
            shot(bob, "owners_not_yours")

            bob.locator("[data-testid=stSidebar]").get_by_role("button", name="Teacher").click()
            password = bob.get_by_role("textbox", name="Teacher password")
            password.fill(TEACHER)
            password.press("Enter")
            bob.wait_for_function("() => document.body.innerText.includes('Teacher: you can stop')", timeout=30_000)
            wait_idle(bob)
            assert stop.is_enabled()
            stop.click()
            bob.wait_for_function("() => /stopping/.test(document.body.innerText)", timeout=30_000)
            assert store.get(run.id).stop_requested and store.get(run.id).status == "stopping"
            assert bob.locator("[data-testid=stException]").count() == 0
            assert ann.locator("[data-testid=stException]").count() == 0
            shot(bob, "owners_teacher_stopped")
    finally:
        for context in browser.contexts:  # the sessions end before the server does
            context.close()
        for run in store.list_runs():  # it would train once the slot is free: not wanted here
            if run.pid:
                os.killpg(run.pid, signal.SIGKILL)
        proc.terminate()
        proc.wait(timeout=20)


def test_behind_a_declared_proxy_the_user_comes_from_its_header(tmp_path, browser):  # noqa: F811
    proc, url = start_server(tmp_path, TLSTUDIO_TRUST_PROXY="1", TLSTUDIO_STANDBY="0")
    try:
        page = browser.new_context(extra_http_headers={"X-Forwarded-User": "carol"}).new_page()
        page.goto(f"{url}/train")
        page.wait_for_selector("[data-testid=stSidebar]", timeout=60_000)
        wait_idle(page)
        sidebar = page.locator("[data-testid=stSidebar]")
        assert "You are carol (signed in through the proxy)" in sidebar.inner_text()
        assert sidebar.get_by_role("textbox", name="Your name").count() == 0  # nothing to type, nothing to fake
        assert page.locator("[data-testid=stException]").count() == 0
    finally:
        for context in browser.contexts:
            context.close()
        proc.terminate()
        proc.wait(timeout=20)
