"""The Evaluate page's bundle download (pages/shared/export_view.py): the button through
Streamlit's AppTest, its message for a run without a checkpoint, and the bundle built by
its own process on a click, then reused until the run saves a newer checkpoint."""
import dataclasses
import os
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pages.shared.export_view import bundle_bytes
from pages.shared.setup import _store
from tlcore.runs import RunRecord


@pytest.fixture
def runs_dir(export_store, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_RUNS_DIR", str(export_store.root))
    _store.clear()  # the page's run store is a cached resource: point it at the export tests' store
    yield export_store.root
    _store.clear()


def _page(run):
    from pages.shared.export_view import bundle_download
    bundle_download(run)


def _render(run) -> AppTest:
    at = AppTest.from_function(_page, kwargs={"run": run}, default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_run_without_a_checkpoint_says_why_there_is_no_download(runs_dir, tmp_path):
    at = _render(RunRecord(id="20260101-000000-abcdef", name="new", created=0.0, config_json="{}", status="queued",
                           folder=tmp_path))
    assert "No checkpoint yet" in at.info[0].value and not at.get("download_button")


def test_a_trained_run_offers_its_bundle_ready_or_built_on_click(runs_dir, finetuned, bundle):
    path, _, _ = bundle
    (button,) = _render(finetuned).get("download_button")
    assert button.proto.label == "Download the model bundle (.zip)"
    assert _render(finetuned).caption[0].value == "Ready to download."
    stamp = path.stat().st_mtime_ns
    assert bundle_bytes(finetuned, runs_dir) == path.read_bytes() and path.stat().st_mtime_ns == stamp  # reused
    checkpoint = Path(finetuned.folder, "checkpoints", "best.safetensors")
    old = checkpoint.stat().st_mtime - 3600
    os.utime(path, (old, old))  # the bundle now predates the checkpoint: a click would rebuild it
    try:
        assert "Built when you click" in _render(finetuned).caption[0].value
    finally:
        os.utime(path, ns=(stamp, stamp))


def test_a_click_builds_the_bundle_in_its_own_process_once(runs_dir, adapted):
    run = adapted["dann"]  # the small CNN: its bundle takes a few seconds
    data = bundle_bytes(run, runs_dir)
    path = Path(run.folder, "exports", f"tlstudio-{run.id}.zip")
    assert data == path.read_bytes() and len(zipfile.ZipFile(path).namelist()) == 9
    stamp = path.stat().st_mtime_ns
    assert bundle_bytes(run, runs_dir) == data and path.stat().st_mtime_ns == stamp
    with pytest.raises(RuntimeError, match="no checkpoint yet"):  # the reason the button shows
        bundle_bytes(dataclasses.replace(run, id="20260101-000000-abcdef", folder=runs_dir / "nowhere"), runs_dir)
