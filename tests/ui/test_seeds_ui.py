"""Seed groups and replays on the pages (Streamlit's AppTest, the real scripts): Seeds on the
Train form queue one group whose progress the run panel shows; the Evaluate page's mean ± std,
the comparison against seed noise, Re-run and a replay's verdict."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pages.shared.setup import _store
from tlcore.config import DataConfig, FeatureMapConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig
from tlcore.runs import RunStore, scheduler, seed_group
from tlcore.runs.store import NEW_GROUP

ROOT = Path(__file__).resolve().parents[2]


def tiny(seed=0, lr=0.02) -> RunConfig:
    return RunConfig(data=DataConfig(target="syndigits", per_class=12, image_size=28),
                     model=ModelConfig(backbone="dann_digits_cnn", weights="none", freeze="none"),
                     optim=OptimConfig(name="sgd", lr=lr), schedule=ScheduleConfig(epochs=1),
                     feature_map=FeatureMapConfig(every=0), batch_size=16, seed=seed)


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TLSTUDIO_MAX_JOBS", "1")
    monkeypatch.setenv("TLSTUDIO_STANDBY", "0")  # no spare worker: these tests start one run at most
    _store.clear()  # the run store is a cached resource: point it at this test's folder
    store = RunStore(tmp_path / "runs")
    yield store
    for run in store.list_runs():  # never leave a worker behind
        if run.status in ("queued", "running", "stopping"):
            scheduler.stop(store, run.id, grace_s=1)


def page(path, run_id=None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(path)
    if run_id:
        at.query_params["run"] = run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def record_group(store, n, lr=0.02) -> list[str]:
    """A finished seed group, trained in this process (no worker start-up)."""
    from tlcore.runs.worker import run_recorded
    ids = []
    for seed in range(n):
        ids.append(store.create_run(tiny(seed, lr), f"cnn lr {lr} · seed {seed}", group=ids[0] if ids else NEW_GROUP))
        assert run_recorded(store, ids[-1]).status == "finished"
    return ids


def test_seeds_on_the_train_form_queue_one_group_shown_in_the_run_panel(runs):
    at = page("pages/train.py")
    assert at.number_input(key="train.seeds").value == 1 and "several" not in at.button(key="ui.start").label
    assert "mean ± std" in at.number_input(key="train.seeds").help
    at.number_input(key="train.epochs").set_value(3)  # long enough to be stopped before it ends
    at.number_input(key="train.per_class").set_value(30)
    at.number_input(key="train.image_size").set_value(32)
    at.number_input(key="train.seeds").set_value(2)
    at.run()
    assert at.button(key="ui.start").label == "Start training (2 seeds, 0–1)"
    at.button(key="ui.start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    members = runs.list_runs()
    assert [r.seed for r in members] == [0, 1]
    assert {r.group_id for r in members} == {members[0].id}
    assert at.query_params["run"] in (members[0].id, [members[0].id])
    bars = [p.proto.text for p in at.get("progress")]
    assert any(t.startswith("Seed group · 2 seeds: ") and "1 queued" in t for t in bars), bars
    assert any("seed 0" in m.value and "seed 1" in m.value for m in at.markdown)
    at.button(key="ui.stop_group").click().run()  # stop the group before it trains: this test is about the page
    assert not at.exception
    assert runs.get(members[1].id).status == "stopped"  # the queued seed: at once, never started
    assert runs.stop_requested(members[0].id)  # the running one: at its next step (tests/runs)
    assert runs.get(members[0].id).status in ("stopping", "stopped")


def test_evaluate_shows_a_groups_mean_and_std_compares_it_against_noise_and_reruns(runs):
    ids = record_group(runs, 2)
    from tlcore.runs.worker import run_recorded
    lone = runs.create_run(tiny(0, lr=0.05), "cnn lr 0.05")
    assert run_recorded(runs, lone).status == "finished"
    group = seed_group(runs, ids[0])

    at = page("pages/evaluate.py", ids[1])
    assert any(s.value == "Seed group: cnn lr 0.02" for s in at.subheader)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Accuracy, mean ± std"] == group.scores["target.test.accuracy"].text(with_n=False)
    assert " ± " in shown["Macro F1, mean ± std"]
    assert any("Over 2 finished of 2 seeds" in c.value for c in at.caption)
    compare = at.multiselect(key="eval.compare")
    assert compare.value == [lone, ids[0]]  # the newest first; the group is one entry
    table = next(d.value for d in at.dataframe if "seeds" in d.value.columns)
    rows = {r["name"]: r for r in table.to_dict("records")}
    assert rows["cnn lr 0.02"]["seeds"] == "2 of 2 finished" and " ± " in rows["cnn lr 0.02"]["test accuracy"]
    assert " ± " not in rows["cnn lr 0.05"]["test accuracy"]
    assert any("B − A:" in c.value and "No seed noise known for A (one run)" in c.value for c in at.caption)
    fig = json.loads(at.get("plotly_chart")[-1].proto.spec)
    names = [t.get("name") for t in fig["data"]]
    assert "B · cnn lr 0.02 (mean of 2 seeds, band min–max)" in names and any(t.get("fill") == "tonexty"
                                                                              for t in fig["data"])

    at.button(key="ui.rerun").click().run()  # Re-run: a replay, watched on the Train page
    assert not at.exception, [e.value for e in at.exception]
    replayed = [r for r in runs.list_runs() if r.replay_of == ids[1]]
    assert len(replayed) == 1 and replayed[0].name == "replay of cnn lr 0.02 · seed 1"
    assert at.title[0].value == "Train"
    scheduler.stop(runs, replayed[0].id, grace_s=1)


def test_a_finished_replay_says_whether_it_matches_its_original(runs):
    from tlcore.runs.worker import run_recorded
    ids = [runs.create_run(tiny(0), "cnn")]
    assert run_recorded(runs, ids[0]).status == "finished"
    original = runs.get(ids[0])
    same = runs.create_run(tiny(0), "replay of it", replay_of=ids[0])
    runs.update(same, status="finished", summary=original.summary)
    other = runs.create_run(tiny(0), "replay elsewhere", replay_of=ids[0])
    runs.update(other, status="finished", summary=dict(original.summary, **{"target.test.accuracy": 0.999}))
    at = page("pages/evaluate.py", same)
    assert any("identical final metrics" in s.value for s in at.success), [s.value for s in at.success]
    at = page("pages/evaluate.py", other)
    assert any("the final metrics differ" in w.value and "99.9%" in w.value for w in at.warning)
