"""The read side the dashboard polls, on real recorded runs."""
import time

import numpy as np

from tlcore.runs.read import MetricsFeed, config_table, progress, target_test_predictions


def test_feed_reads_incrementally_and_sees_rows_of_a_resumed_run(recorded_runs):
    store, ids = recorded_runs
    feed = MetricsFeed(store, ids["gradual"])
    rows = feed.poll()
    assert len(rows) == len(store.metrics(ids["gradual"])) > 50
    assert feed.poll() is rows and len(rows) == len(store.metrics(ids["gradual"]))  # nothing new: no growth
    # A resumed run writes a step it wrote before: the feed still picks it up (by row id).
    store.add_metrics(ids["gradual"], [(1, 1, "train", "loss", 9.0, time.time())])
    assert feed.poll()[-1]["value"] == 9.0
    store._db.execute("DELETE FROM metrics WHERE value = 9.0")


def test_progress_counts_steps_epochs_and_estimates_time_left(recorded_runs):
    store, ids = recorded_runs
    rows = MetricsFeed(store, ids["dann"]).poll()
    done = progress(rows, "finished")
    assert done.epoch == done.epochs == 2 and done.step == done.total_steps > 0 and done.fraction == 1.0
    assert done.eta_s is None  # nothing left to estimate
    # Half-way through (the rows written up to the middle step), as a live run looks:
    middle = done.total_steps // 2
    live = progress([r for r in rows if r["split"] == "run" or r["step"] <= middle], "running")
    assert live.step == middle and 0 < live.fraction < 1
    assert live.eta_s is not None and live.eta_s > 0


def test_test_predictions_match_the_summary(recorded_runs):
    store, ids = recorded_runs
    p = target_test_predictions(store, ids["dann"])
    summary = store.get(ids["dann"]).summary
    assert p["epoch"] == 2 and p["class_names"] == summary["class_names"]
    true, pred = np.array(p["true"]), np.array(p["pred"])
    assert np.isclose((true == pred).mean(), summary["target.test.accuracy"])
    assert p["thumbs"].shape == (len(true), 64, 64, 3) and p["thumbs"].dtype == np.uint8
    assert len(p["ids"]) == len(true) and all(0 <= c <= 1 for c in p["confidence"])


def test_config_table_marks_the_settings_that_differ(recorded_runs):
    store, ids = recorded_runs
    rows, differ = config_table(store, [ids["dann"], ids["gradual"]])
    assert {"strategy.name", "data.source", "model.freeze", "schedule.epochs"} <= differ
    assert "batch_size" not in differ and "optim.lr" not in differ
    assert {r["setting"] for r in rows} >= differ | {"optim.lr"}
    assert not any(r["setting"].startswith("environment") for r in rows)
