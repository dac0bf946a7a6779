"""Figure builders, fed with the rows and summaries of real recorded runs."""
import numpy as np

from tlcore.plots import (before_after_figure, compare_curves_figure, confusion_figure, curve_figures,
                          freeze_timeline_figure, per_class_rows, series, weights_figure)
from tlcore.plots.training import smooth
from tlcore.runs.read import MetricsFeed


def test_curves_of_an_adaptation_run(recorded_runs):
    store, ids = recorded_runs
    rows = MetricsFeed(store, ids["dann"]).poll()
    figures = curve_figures(rows)
    assert set(figures) == {"loss", "quality", "adaptation"}
    names = {t.name for t in figures["adaptation"].data}
    assert {"domain loss", "discriminator accuracy", "GRL lambda"} <= names
    quality = {t.name: t for t in figures["quality"].data}
    epochs, acc = series(rows, "target.val", "accuracy", x="epoch")
    assert list(quality["target val accuracy"].y) == list(acc) and list(epochs) == [1, 2]
    loss = {t.name: t for t in figures["loss"].data}
    steps, _ = series(rows, "train", "loss")
    assert len(loss["train loss (per step)"].x) == len(steps) and "target val loss" in loss


def test_gradual_unfreezing_shows_in_the_freeze_timeline(recorded_runs):
    store, ids = recorded_runs
    rows = MetricsFeed(store, ids["gradual"]).poll()
    fig = freeze_timeline_figure(rows)
    z = np.array(fig.data[0].z)  # stages x epochs, 1 = training
    stages = list(fig.data[0].y)
    assert list(fig.data[0].x) == [1, 2, 3]
    backbone = [i for i, s in enumerate(stages) if s != "head"]
    trained = z[backbone].sum(0)
    assert list(trained) == [0, 1, 2]  # head only, then one more stage per epoch (freeze plan last:2)
    assert freeze_timeline_figure([r for r in rows if r["split"] != "frozen"]) is None


def test_finetune_runs_have_no_adaptation_chart(recorded_runs):
    store, ids = recorded_runs
    assert "adaptation" not in curve_figures(MetricsFeed(store, ids["gradual"]).poll())


def test_evaluation_figures_from_a_summary(recorded_runs):
    store, ids = recorded_runs
    summary = store.get(ids["dann"]).summary
    fig = before_after_figure(summary)
    assert [t.name for t in fig.data] == ["before transfer", "after transfer"]
    assert fig.data[1].y[0] == summary["target.test.accuracy"]
    rows = per_class_rows(summary)
    assert [r["class"] for r in rows] == summary["class_names"]
    assert sum(r["test images"] for r in rows) == np.sum(summary["target.test.confusion_matrix"])
    counts = confusion_figure(summary["target.test.confusion_matrix"], summary["class_names"])
    shares = confusion_figure(summary["target.test.confusion_matrix"], summary["class_names"], normalise=True)
    assert np.allclose(np.array(shares.data[0].z).sum(1)[np.array(counts.data[0].z).sum(1) > 0], 1.0)
    compare = compare_curves_figure({"a": MetricsFeed(store, ids["dann"]).poll(),
                                     "b": MetricsFeed(store, ids["gradual"]).poll()})
    assert [len(t.x) for t in compare.data] == [2, 3]


def test_smoothing_and_weights_histogram():
    noisy = np.array([1.0, 0.0] * 50)
    assert smooth(noisy).std() < noisy.std() / 3 and len(smooth(noisy)) == 100
    fig = weights_figure([0.5, 1.0, 1.0, 2.0])
    assert list(fig.data[0].x) == [0.5, 1.0, 1.0, 2.0] and "4 samples" in fig.layout.title.text
