"""The learning curve on real data (syndigits through the pretrained efficientnet_lite0), and
the power-law fit against curves whose parameters are known."""
import json
import re

import numpy as np
import pytest

from tlcore.feasibility.curve import fit_power_law, learning_curve, power_law, stratified_subset
from tlcore.plots.feasibility import learning_curve_figure


@pytest.fixture(scope="module")
def curve(syndigits_features):
    """One feature pass over 600 syndigits images at 48 px, one curve (12 head fits): ~10 s."""
    s, f = syndigits_features(60)
    train, test = np.flatnonzero(s.splits != "test"), np.flatnonzero(s.splits == "test")
    return learning_curve(f[train], s.labels[train], f[test], s.labels[test], s.class_names, seeds=(0, 1, 2))


def test_points_cover_every_fraction_and_seed_and_grow_with_n(curve):
    assert len(curve.points) == 4 * 3
    mean = {fr: np.mean([p["accuracy"] for p in curve.points if p["fraction"] == fr]) for fr in (0.1, 0.25, 0.5, 1.0)}
    # Robust part of "accuracy rises with labels": 10x the labels is clearly better (measured
    # 0.34 -> 0.66 on these 90 test images), and the full set beats half of it or ties.
    assert mean[1.0] > mean[0.1] + 0.1, mean
    assert mean[1.0] >= mean[0.5] - 0.03, mean
    sizes = sorted({p["n"] for p in curve.points})
    assert len(sizes) == 4 and sizes[-1] == round(curve.per_class * 10)  # 10 classes, all labels at 1.0


def test_predictions_are_at_2x_and_5x_with_an_ordered_range(curve):
    assert curve.fit is not None
    two, five = curve.predictions
    assert (two["factor"], five["factor"]) == (2, 5)
    assert two["per_class"] == pytest.approx(2 * curve.per_class)
    assert five["per_class"] == pytest.approx(5 * curve.per_class)
    assert 0 <= two["low"] <= two["high"] <= 1 and 0 <= five["low"] <= five["high"] <= 1
    assert five["accuracy"] >= two["accuracy"] >= float(curve.fit.predict(curve.per_class)[0]) - 1e-9
    assert len(curve.fit.draws) > 200  # most bootstrap refits converge


def test_sentence_is_plain_and_carries_the_numbers(curve):
    more = int(round(curve.per_class))
    assert re.match(rf"About {more} more images per class would likely bring test accuracy from "
                    rf"\d+% to \d+% \(range \d+%-\d+%\)\.", curve.sentence), curve.sentence
    assert f"{curve.accuracy:.0%}" in curve.sentence
    assert json.loads(json.dumps(curve.to_dict()))["sentence"] == curve.sentence  # storable with a run


def test_fit_recovers_a_known_power_law():
    a, b, c = 0.92, 0.7, 0.45
    n = np.repeat([5.0, 12.5, 25.0, 50.0], 3)
    rng = np.random.default_rng(0)
    exact = fit_power_law(n, power_law(n, a, b, c), bootstrap=0)
    assert (exact.a, exact.b, exact.c) == pytest.approx((a, b, c), abs=1e-4)
    noisy = fit_power_law(n, power_law(n, a, b, c) + rng.normal(0, 0.004, len(n)), bootstrap=200)
    # Extrapolation, not parameters, is what is used: 5x the largest size within 2 points,
    # and the band holds the truth there.
    truth = power_law(250.0, a, b, c)
    assert float(noisy.predict(250.0)[0]) == pytest.approx(truth, abs=0.02)
    low, high = noisy.band(250.0, level=0.95)
    assert low[0] <= truth <= high[0] and high[0] - low[0] < 0.1


def test_fit_stays_inside_its_bounds_on_a_flat_curve():
    n = np.repeat([5.0, 12.5, 25.0, 50.0], 3)
    fit = fit_power_law(n, np.full(len(n), 0.6) + np.tile([0.0, 0.01, -0.01], 4), bootstrap=50)
    assert 0 <= fit.a <= 1 and 0 <= fit.b and 0.05 <= fit.c <= 2
    assert float(fit.predict(500.0)[0]) == pytest.approx(0.6, abs=0.05)


def test_stratified_subsets_are_nested_and_keep_every_class():
    y = np.repeat(np.arange(4), [10, 20, 40, 3])
    small, large = stratified_subset(y, 0.25, seed=3), stratified_subset(y, 0.5, seed=3)
    assert set(small) <= set(large)
    assert np.bincount(y[small]).tolist() == [2, 5, 10, 1]  # rounded, never below one a class
    assert not np.array_equal(small, stratified_subset(y, 0.25, seed=4))


def test_learning_curve_figure(curve):
    fig = learning_curve_figure(curve)
    names = [t.name for t in fig.data]
    assert names[:2] == ["measured (each seed)", "measured (mean)"]
    assert "predicted" in names and any(n.startswith("fit ") for n in names)
    assert fig.layout.xaxis.type == "log"
    predicted = next(t for t in fig.data if t.name == "predicted")
    assert list(predicted.text) == ["2x", "5x"]
    # Everything drawn lies between the fewest labels measured and the 5x prediction: no shape
    # whose x a log axis reads as log10(x) (a "labels now" vline once stretched it to 10^70).
    xs = np.concatenate([np.asarray(t.x, dtype=float) for t in fig.data])
    assert not fig.layout.shapes
    assert xs.min() >= min(p["per_class"] for p in curve.points) * 0.99
    assert xs.max() <= curve.predictions[-1]["per_class"] * 1.01


def test_curve_survives_the_json_round_trip_of_a_report(curve):
    import json

    from tlcore.feasibility.curve import LearningCurve
    back = LearningCurve.from_dict(json.loads(json.dumps(curve.to_dict())))
    assert back.sentence == curve.sentence and back.predictions == curve.predictions
    np.testing.assert_allclose(back.fit.band([100.0]), curve.fit.band([100.0]))
