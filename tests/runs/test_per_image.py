"""Test predictions image by image, on real recorded runs: a confusion cell's images, and two
runs compared on the same test images."""
import numpy as np
import pytest

from tlcore.config import ScheduleConfig
from tlcore.plots import confusion_figure
from tlcore.runs.per_image import (NotComparable, cell_images, compare_predictions, compare_runs, confusion_cells,
                                   mistakes, split_differences)
from tlcore.runs.read import target_test_predictions
from tlcore.runs.worker import run_recorded


def test_each_confusion_cell_lists_the_images_the_matrix_counts(recorded_runs):
    store, ids = recorded_runs
    p = target_test_predictions(store, ids["dann"])
    matrix = np.array(store.get(ids["dann"]).summary["target.test.confusion_matrix"])
    cells = confusion_cells(p)
    assert {(t, q): n for t, q, n in cells} == {(t, q): matrix[t, q] for t, q in zip(*np.nonzero(matrix))}
    off = [c for c in cells if c[0] != c[1]]
    assert cells[:len(off)] == off and [n for *_, n in off] == sorted((n for *_, n in off), reverse=True)
    for t, q, n in cells:
        found = cell_images(p, t, q)
        assert len(found) == n and all(p["true"][i] == t and p["pred"][i] == q for i in found)
        assert [p["confidence"][i] for i in found] == sorted((p["confidence"][i] for i in found), reverse=True)
    assert sorted(mistakes(p)) == sorted(i for t, q, _ in off for i in cell_images(p, t, q))
    assert cell_images(p, 0, len(p["class_names"])) == []  # no such class: nothing, not an error
    # The figure: one clickable marker per cell (Streamlit reports no click on a heatmap), the chosen outlined.
    t, q, _ = off[0]
    fig = confusion_figure(matrix, p["class_names"], chosen=(t, q))
    markers = fig.data[1]
    assert len(markers.customdata) == matrix.size and [t, q] in [list(c[:2]) for c in markers.customdata]
    assert fig.layout.shapes[0].x0 == q - 0.5 and fig.layout.shapes[0].y0 == t - 0.5


def test_two_runs_on_the_same_test_images_fixed_and_broken(recorded_runs):
    store, ids = recorded_runs
    a, b, diff = compare_runs(store, ids["dann"], ids["gradual"])  # same target data and seed, other methods
    n = len(a["ids"])
    assert diff.n == n and sorted(diff.both_right + diff.both_wrong + diff.fixed + diff.broken) == list(range(n))
    right_a = np.array(a["true"]) == np.array(a["pred"])
    right_b = np.array(b["true"]) == np.array(b["pred"])
    assert right_a[diff.fixed].sum() == 0 and right_a[diff.broken].all()
    assert len(diff.fixed) - len(diff.broken) == right_b.sum() - right_a.sum()  # the accuracy gap, image by image
    for i in diff.fixed + diff.broken:  # matched by image id, whatever the order in B
        assert b["ids"][diff.b_position[i]] == a["ids"][i] and b["true"][diff.b_position[i]] == a["true"][i]
    # B's order shuffled: the same sets, so images are matched by id, not by position.
    order = np.random.default_rng(0).permutation(n)
    shuffled = {**b, **{k: [b[k][i] for i in order] for k in ("ids", "true", "pred", "confidence")}}
    again = compare_predictions(a, shuffled)
    assert (sorted(again.fixed), sorted(again.broken)) == (sorted(diff.fixed), sorted(diff.broken))
    # Against itself: nothing fixed, nothing broken.
    self_diff = compare_predictions(a, a)
    assert not self_diff.fixed and not self_diff.broken and len(self_diff.both_right) == right_a.sum()


def test_runs_on_other_test_images_are_refused_with_the_reason(recorded_runs):
    store, ids = recorded_runs
    config = store.get(ids["gradual"]).config
    other = config.replace(seed=1, schedule=ScheduleConfig(epochs=1))
    assert split_differences(config, other) == "seed 0 vs 1: the split is drawn from the seed"
    assert split_differences(config, store.get(ids["dann"]).config) == ""  # a source set does not move the split
    pending = store.create_run(other, "seed 1")
    with pytest.raises(NotComparable, match="run B .* has no test predictions yet"):
        compare_runs(store, ids["gradual"], pending)
    assert run_recorded(store, pending).status == "finished"  # one epoch: about 2 s
    with pytest.raises(NotComparable, match=r"different test images: A has 30, B 30, \d+ in common \(seed 0 vs 1"):
        compare_runs(store, ids["gradual"], pending)
    a = target_test_predictions(store, ids["gradual"])
    with pytest.raises(NotComparable, match="different classes"):
        compare_predictions(a, {**a, "class_names": list(reversed(a["class_names"]))})
    with pytest.raises(NotComparable, match="do not match its list"):
        compare_predictions(a, {**a, "pred": a["pred"][:-1]})
