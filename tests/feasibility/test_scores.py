"""H-score and the k-fold probe against direct formulas and known cases."""
import numpy as np
import pytest

from tlcore.feasibility.scores import h_score, probe_accuracy


def test_h_score_one_dimension_two_classes_by_hand():
    # Classes at -1 and +1, each with values mean +- 0.5: the between-class variance is 1 and
    # the total variance 1 + 0.25, so H = 1 / 1.25 exactly.
    f = np.array([[-1.5], [-0.5], [0.5], [1.5]])
    y = np.array([0, 0, 1, 1])
    assert h_score(f, y, shrinkage=None) == pytest.approx(1 / 1.25, rel=1e-12)


def test_h_score_matches_a_loop_over_samples():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    f = rng.normal(size=(60, 5)) + rng.normal(size=(3, 5))[y]
    mu = f.mean(0)
    cov_f = sum(np.outer(x - mu, x - mu) for x in f) / len(f)
    means = {c: f[y == c].mean(0) for c in range(3)}
    cov_g = sum(np.outer(means[c] - mu, means[c] - mu) for c in y) / len(f)
    direct = np.trace(np.linalg.inv(cov_f) @ cov_g)
    assert h_score(f, y, shrinkage=None) == pytest.approx(direct, rel=1e-10)
    # Between 0 and K - 1, and shrinkage pulls it down (it inflates the total covariance).
    assert 0 < h_score(f, y, shrinkage="auto") <= h_score(f, y, shrinkage=None) <= 2 + 1e-9
    assert h_score(f, y, shrinkage=0.0) == pytest.approx(direct, rel=1e-10)


def test_h_score_separating_features_beat_noise_in_high_dimension():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 15)
    f = rng.normal(size=(60, 200)) + 2 * rng.normal(size=(4, 200))[y]  # more dims than images
    noise = rng.normal(size=(60, 200))
    assert h_score(f, y) > h_score(noise, y) + 0.5


def test_probe_accuracy_known_cases():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(3), 20)
    separable = np.eye(3)[y] * 10 + 0.01 * rng.normal(size=(60, 3))
    assert probe_accuracy(separable, y) == 1.0
    chance = probe_accuracy(rng.normal(size=(60, 3)), y)
    assert 0.0 <= chance < 0.6
    few = np.repeat(np.arange(3), 2)  # two images a class: the folds shrink to 2
    assert 0.0 <= probe_accuracy(np.eye(3)[few] + 0.01 * rng.normal(size=(6, 3)), few) <= 1.0
    with pytest.raises(ValueError, match="at least 2 images"):
        probe_accuracy(np.zeros((3, 2)), np.array([0, 1, 1]))
