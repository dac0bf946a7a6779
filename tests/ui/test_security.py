"""Exposure through the real page scripts (Streamlit's AppTest, no browser): a crafted run id
in the URL, the optional class password, the free-disk refusal on the Train page, and the
server settings in .streamlit/config.toml."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from streamlit.testing.v1 import AppTest

from pages.shared.setup import _store
from tlcore.config import RunConfig
from tlcore.data.limits import DEFAULT_MAX_UPLOAD_MB
from tlcore.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["pages/data.py", "pages/model.py", "pages/train.py", "pages/features.py", "pages/evaluate.py",
         "pages/predict.py", "pages/learn.py"]

# Every file the process opens or lists while _watch is set (sys.addaudithook cannot be
# removed again, so the hook stays installed and idle between tests). This observes the real
# file access of the real scripts; nothing is replaced.
_watch: list | None = None


def _audit(event, args):
    if _watch is not None and event in ("open", "os.listdir", "os.scandir") and args:
        target = args[0]
        if isinstance(target, (str, bytes, os.PathLike)):
            _watch.append(os.path.abspath(os.fsdecode(target)))


sys.addaudithook(_audit)


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """The runs folder two levels down, so that '../../etc' from it names tmp/outer/etc: a
    decoy run folder that must never be touched."""
    root = tmp_path / "outer" / "inner" / "runs"
    monkeypatch.setenv("TLSTUDIO_RUNS_DIR", str(root))
    monkeypatch.setenv("TLSTUDIO_MAX_JOBS", "1")
    monkeypatch.setenv("TLSTUDIO_STANDBY", "0")  # no spare worker process for these page runs
    _store.clear()  # the run store is a cached resource: point it at this test's folder
    yield root
    _store.clear()


@pytest.fixture
def decoy(tmp_path):
    folder = tmp_path / "outer" / "etc"
    for name in ("config.json", "summary.json", "worker.log", "target_test_predictions.json",
                 "snapshots/probe.json", "checkpoints/best.safetensors"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("{}")
    return folder


def _url_run(at):
    value = at.query_params.get("run")
    return value[0] if isinstance(value, list) else value


def test_a_crafted_run_id_in_the_url_is_ignored_with_a_warning(runs, decoy):
    global _watch
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    opened: list[str] = []
    try:
        for i, page in enumerate(["app.py", *PAGES]):
            crafted = "../../etc" if i % 2 == 0 else str(decoy)  # relative and absolute
            at.query_params["run"] = crafted
            if page != "app.py":
                at.switch_page(page)
            _watch = opened
            at.run()
            _watch = None
            assert not at.exception, (page, [e.value for e in at.exception])
            assert any("is not a run id" in w.value and "it was ignored" in w.value for w in at.warning), page
            assert _url_run(at) is None, page  # dropped from the URL, so a refresh does not repeat it
            assert not any("Active run" in m.value for m in at.sidebar.markdown), page
    finally:
        _watch = None
    assert opened, "the audit hook saw no file access at all: it is not watching"
    assert [p for p in opened if p.startswith(str(decoy))] == []
    assert runs.is_dir() and not (runs.parent / "etc").exists()


def test_a_real_run_id_still_works(runs):
    run_id = RunStore(runs).create_run(RunConfig(), "a queued run")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception and not at.warning
    assert any(run_id in m.value for m in at.sidebar.markdown if "Active run" in m.value)


def test_the_class_password_guards_every_page(runs):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.secrets["tlstudio"] = {"password": "kestrel-42"}
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["TL Studio"] and not at.sidebar.markdown and not at.metric
    at.switch_page("pages/train.py").run()  # a direct link to a page meets the same box
    assert not at.exception and [t.value for t in at.title] == ["TL Studio"] and not at.button
    at.text_input(key="auth.password").input("kestrel").run()
    assert [e.value for e in at.error] == ["Wrong password."] and not at.sidebar.markdown
    at.text_input(key="auth.password").input("kestrel-42").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Train" and any("Device:" in m.value for m in at.sidebar.markdown)
    at.switch_page("pages/evaluate.py").run()  # once per browser session, not per page
    assert at.title[0].value == "Evaluate"


def test_without_a_password_there_is_no_password_box(runs):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception and any("Device:" in m.value for m in at.sidebar.markdown)
    assert [t.key for t in at.text_input] == ["owner.name"]  # the sidebar's name box, no password box


def test_the_train_page_shows_the_disk_refusal_not_a_traceback(runs, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_MIN_FREE_DISK_MB", str(10**12))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/train.py").run()
    at.button(key="ui.start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [e.value for e in at.error if e.value.startswith("The run was not started")]
    assert shown and "MB free under" in shown[0] and "threshold of 1,000,000,000,000 MB" in shown[0]
    assert "TLSTUDIO_MIN_FREE_DISK_MB" in shown[0]
    assert RunStore(runs).list_runs() == []


def test_the_server_binds_localhost_with_xsrf_protection_on():
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["address"] == "127.0.0.1"
    assert server["enableXsrfProtection"] is True and server.get("enableCORS", True) is True
    assert server["maxUploadSize"] == DEFAULT_MAX_UPLOAD_MB
    # Streamlit itself reads them under these names (a misspelt option would only be warned
    # about): ask the installed version, from the app's folder, with no override in the way.
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    shown = subprocess.run([sys.executable, "-m", "streamlit", "config", "show"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120).stdout.splitlines()
    assert 'address = "127.0.0.1"' in shown and "enableXsrfProtection = true" in shown
    assert f"maxUploadSize = {DEFAULT_MAX_UPLOAD_MB}" in shown
