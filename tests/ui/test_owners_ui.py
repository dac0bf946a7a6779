"""Run owners through the real page scripts (AppTest): a run someone else started can be
looked at, not stopped, until this session unlocks the teacher password; a hostile name
stays plain text. (Two real browsers: tests/e2e/test_owners.py.)"""
from pathlib import Path

from streamlit.testing.v1 import AppTest

from pages.shared.setup import _store
from tlcore.config import RunConfig
from tlcore.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]


def test_anothers_run_is_viewable_but_only_a_teacher_stops_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TLSTUDIO_TEACHER_PASSWORD", "owl-7")
    _store.clear()  # the run store is a cached resource: point it at this test's folder
    store = RunStore(tmp_path / "runs")
    run_id = store.create_run(RunConfig(), "ann's run", owner="ann")  # queued: no worker is started
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["run"] = run_id
        at.run()
        at.switch_page("pages/train.py").run()
        at.sidebar.text_input(key="owner.name").input("  [bob](javascript:alert(1))`\x00 ").run()
        assert not at.exception, [e.value for e in at.exception]
        assert "You are `[bob](javascript:alert(1))` (typed, not verified)" in [c.value for c in at.sidebar.caption]
        stop = at.button(key="ui.stop")
        assert stop.disabled and "ann's run" in stop.help
        at.sidebar.text_input(key="auth.teacher_password").input("owl").run()
        assert "Wrong teacher password." in [e.value for e in at.sidebar.error] and at.button(key="ui.stop").disabled
        at.sidebar.text_input(key="auth.teacher_password").input("owl-7").run()
        assert not at.exception and not at.button(key="ui.stop").disabled
        at.button(key="ui.stop").click().run()
        assert store.get(run_id).status == "stopped" and store.get(run_id).owner == "ann"
        assert not at.exception
        at.button(key="ui.teacher_lock").click().run()  # bob again, without the teacher's rights
        # Delete sits in a popover a browser shows greyed out for bob; pressed anyway (as a
        # forged click would), tlcore refuses it.
        at.button(key="ui.delete").click().run()
        assert "belongs to ann: only they or a teacher can delete it" in " ".join(e.value for e in at.error)
        assert store.get(run_id).folder.is_dir() and not at.exception
        at.sidebar.text_input(key="owner.name").input("ann").run()
        at.button(key="ui.delete").click().run()
        assert store.list_runs() == [] and not (tmp_path / "runs" / run_id).exists()
        assert not at.exception, [e.value for e in at.exception]
    finally:
        _store.clear()
