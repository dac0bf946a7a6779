"""The Feasibility page through AppTest (the real script, the real check on the demo target):
one click runs the check in its background job, the verdict and the four tabs appear, and a
decision about a suspect label is recorded and reaches the next run's config (with the
sidebar's MLflow switch)."""
import json
import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pages.shared.setup import _store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TLSTUDIO_STANDBY", "0")  # no spare worker: one run is started, and stopped at once
    _store.clear()  # the run store is a cached resource: point it at this test's folder
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/feasibility.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def wait_for_report(at, timeout_s: float = 150):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if at.tabs:
            return at
        assert not at.error, [e.value for e in at.error]
        time.sleep(1)
    raise AssertionError("no feasibility report within the timeout")


def test_fresh_page_explains_and_waits_for_the_click(app):
    assert app.title[0].value == "Feasibility"
    assert any("Device:" in m.value for m in app.sidebar.markdown)
    assert any("Press the button" in i.value for i in app.info)
    assert not app.tabs  # nothing runs before the click


def test_one_click_check_then_a_recorded_decision_reaches_the_run_config(app):
    app.number_input(key="feas.per_class").set_value(30)
    app.number_input(key="feas.image_size").set_value(32)
    app.run()
    app.button(key="ui.feas_start").click().run()
    at = wait_for_report(app)
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["Best backbone", "Accuracy now", "With 2x the labels", "Suspect labels"]
    assert "Domain gap" in labels  # the demo pair has a source
    assert at.metric[0].value in ("efficientnet_lite0", "efficientnet_lite2")
    verdict = (at.success or at.info or at.warning)[0].value
    assert "linear head on frozen" in verdict and "Review the suspect labels" in verdict
    assert [t.label for t in at.tabs] == ["Suspect labels", "Learning curve", "Backbones", "Domain gap"]

    # Drop the most suspect image, relabel the second: recorded at once, for this target only.
    choices = [s for s in at.selectbox if s.key and s.key.startswith("ui.feas_edit.")]
    assert len(choices) >= 2 and all(c.value == "keep" for c in choices)
    first, second = choices[0].key.removeprefix("ui.feas_edit."), choices[1].key.removeprefix("ui.feas_edit.")
    choices[0].set_value("drop").run()
    target_class = next(o for o in at.selectbox(key=f"ui.feas_edit.{second}").options if o.startswith("relabel"))
    at.selectbox(key=f"ui.feas_edit.{second}").set_value(target_class).run()
    assert not at.exception, [e.value for e in at.exception]
    edits = at.session_state["data.label_edits"]["syndigits"]
    assert edits == {"drops": [first], "relabels": {second: target_class.removeprefix("relabel as ")}}
    assert any("2 label decisions recorded" in i.value for i in at.info)
    assert at.selectbox(key=f"ui.feas_edit.{first}").value == "drop"  # the grid shows what was decided

    # The Train page's next run carries them in its config (DataConfig.label_edits).
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.number_input(key="train.per_class").set_value(20)
    at.number_input(key="train.image_size").set_value(32)
    at.number_input(key="train.epochs").set_value(1)
    at.toggle(key="run.mlflow").set_value(True)  # the sidebar's MLflow switch rides along in the same config
    at.run()
    at.button(key="ui.start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    from tlcore.runs import RunStore, scheduler
    store = RunStore(Path(os.environ["TLSTUDIO_RUNS_DIR"]))
    (run,) = store.list_runs()
    scheduler.stop(store, run.id, grace_s=1)  # the config is what this test is about, not the training
    config = json.loads(run.config_json)
    assert config["data"]["label_edits"] == edits and config["tracking"] == "mlflow"
    at.switch_page("pages/feasibility.py").run()
    at.button(key="ui.feas_undo_all").click().run()
    assert "syndigits" not in at.session_state["data.label_edits"]
