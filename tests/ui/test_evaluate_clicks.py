"""The Evaluate page's image-level views (pages/shared/evaluate_clicks.py): the per-class table
sorts as numbers, a click and the select box agree on the chosen cell, and odd run states (no
thumbnails, no predictions, runs on other test images) show a message, never a traceback.
The click itself, in a real browser, is tests/e2e/test_evaluate.py."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pages.shared import evaluate_clicks as ec
from pages.shared.setup import _store
from tlcore.config import DataConfig, FeatureMapConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig
from tlcore.run_folder import RunFolder
from tlcore.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]


def test_the_per_class_table_is_numeric_and_worst_f1_first():
    per_class = {"cat": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 9},
                 "dog": {"precision": 0.1, "recall": 0.2, "f1": 0.15, "support": 10},
                 "eel": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 100}}
    frame = ec.per_class_frame({"target.test.per_class": per_class})
    assert list(frame["class"]) == ["dog", "cat", "eel"]
    assert frame["test images"].dtype.kind == "i" and frame["F1"].dtype.kind == "f"  # 100 > 9 > 10 as text
    assert ec.per_class_frame({}).empty  # a run without per-class scores: an empty table, no error


def event(*cells):
    return {"selection": {"points": [{"curve_number": 1, "customdata": [t, p, "1"]} for t, p in cells]}}


def test_a_click_and_the_select_box_agree_on_the_chosen_cell(monkeypatch):
    state = {}
    monkeypatch.setattr(ec.st, "session_state", state)
    keys, cells = ec._keys("r1"), [(2, 1, 3), (0, 4, 1), (1, 1, 5)]
    assert ec.chosen_cell("r1", cells) == (2, 1)  # no click yet: the most frequent confusion
    state[keys["chart"]] = event((1, 1))
    assert ec.chosen_cell("r1", cells) == (1, 1) == state[keys["cell"]]  # the click, written into the box
    state[keys["cell"]] = (0, 4)  # then the box is changed: the chart still reports its old click
    assert ec.chosen_cell("r1", cells) == (0, 4)
    state[keys["chart"]] = event()  # the selection cleared (the chart was drawn anew)
    assert ec.chosen_cell("r1", cells) == (0, 4)
    state[keys["chart"]] = event((1, 1))  # the same cell clicked again counts again
    assert ec.chosen_cell("r1", cells) == (1, 1)
    state[keys["chart"]] = event((3, 3))  # an empty cell: not in the box, still the chosen one
    assert ec.chosen_cell("r1", cells) == (3, 3) and state[keys["cell"]] is None
    assert ec.chosen_cell("r2", cells) == (2, 1)  # another run starts from its own default
    assert ec.clicked_cell({"selection": {"points": [{"curve_number": 0, "x": "1", "y": "2"}]}}) is None  # heatmap
    assert ec.clicked_cell(None) is None


def tiny(seed=0) -> RunConfig:
    return RunConfig(data=DataConfig(target="syndigits", per_class=12, image_size=28),
                     model=ModelConfig(backbone="dann_digits_cnn", weights="none", freeze="none"),
                     optim=OptimConfig(name="sgd", lr=0.02), schedule=ScheduleConfig(epochs=1),
                     feature_map=FeatureMapConfig(every=0), batch_size=16, seed=seed)


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TLSTUDIO_STANDBY", "0")
    _store.clear()  # the run store is a cached resource: point it at this test's folder
    return RunStore(tmp_path / "runs")


def record(store, name, seed=0) -> str:
    """A finished run trained in this process (no worker start-up): about 2 s."""
    from tlcore.runs.worker import run_recorded
    run_id = store.create_run(tiny(seed), name)
    assert run_recorded(store, run_id).status == "finished"
    return run_id


def evaluate(run_id) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/evaluate.py")
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_odd_runs_say_what_is_missing_instead_of_failing(runs):
    seed0, seed1 = record(runs, "seed 0"), record(runs, "seed 1", seed=1)
    at = evaluate(seed1)  # Compare picks both, newest first: A seed 1, B seed 0, other test images
    assert at.selectbox(key=f"ui.eval_cell.{seed1}").value is not None
    assert any("cannot be compared image by image" in i.value and "seed 1 vs 0" in i.value for i in at.info)

    runs.update(seed1, status="running", summary=None)  # mid-run: no summary yet, the last epoch's predictions
    at = evaluate(seed1)
    assert any("scores after epoch 1" in i.value for i in at.info)
    assert at.selectbox(key=f"ui.eval_cell.{seed1}").value is not None

    folder = Path(runs.get(seed0).folder)
    (folder / RunFolder.TEST_THUMBS).unlink()  # as an older version recorded it: no thumbnails
    at = evaluate(seed0)
    assert any("no thumbnails" in c.value for c in at.caption)
    assert any("image" in d.value.columns for d in at.dataframe)  # the cell's images listed by name

    (folder / RunFolder.TEST_PREDICTIONS).unlink()  # no per-image predictions at all
    at = evaluate(seed0)
    assert any("A cell cannot list its images" in i.value for i in at.info)
    assert at.get("plotly_chart")  # the matrix itself is still drawn, from the summary
    assert any("has no test predictions yet" in i.value for i in at.info)  # nor can it be compared
