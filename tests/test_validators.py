"""The label-free validators against their papers' formulas, written out the long way here,
and the verdict that reads them."""
import math

import numpy as np
import pytest

from tlcore.validators import (VALIDATORS, dev_from_weights, entropy_score, info_max_score, label_free_scores,
                               reverse_accuracy, snd_score, verdict)


def _probs(n, k, seed):
    z = np.random.default_rng(seed).normal(size=(n, k)) * 3
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_snd_is_the_papers_equations():
    """Saito et al. 2021, Eq. 1-3: F_i = p_i/||p_i||; S_ij = F_i.F_j (j != i); P_ij = softmax_j(S_ij / 0.05);
    SND = mean_i H(P_i)."""
    p = _probs(12, 4, 0)
    f = [row / math.sqrt(sum(v * v for v in row)) for row in p]
    total = 0.0
    for i in range(len(f)):
        s = [sum(a * b for a, b in zip(f[i], f[j])) / 0.05 for j in range(len(f)) if j != i]
        z = sum(math.exp(v) for v in s)
        total += -sum(math.exp(v) / z * math.log(math.exp(v) / z) for v in s)
    assert snd_score(p) == pytest.approx(total / len(f), rel=1e-9)


def test_entropy_and_information_maximisation():
    k = 5
    spread = np.eye(k)[np.arange(50) % k]  # confident and every class used
    collapsed = np.eye(k)[np.zeros(50, dtype=int)]  # confident, one class
    uniform = np.full((50, k), 1 / k)
    assert entropy_score(spread) == pytest.approx(0.0, abs=1e-9)
    assert entropy_score(uniform) == pytest.approx(-math.log(k))
    assert info_max_score(spread) == pytest.approx(math.log(k))
    assert info_max_score(collapsed) == pytest.approx(0.0, abs=1e-9)
    assert info_max_score(uniform) == pytest.approx(0.0, abs=1e-9)


def test_dev_is_the_control_variate_estimate():
    """You et al. 2019, Algorithm 1: L = w l; eta = -Cov(L, w)/Var(w); DEV = mean(L) + eta mean(w) - eta."""
    rng = np.random.default_rng(1)
    w, loss = rng.uniform(0.2, 3, 40), rng.uniform(0, 2, 40)
    big_l = w * loss
    cov = sum((a - big_l.mean()) * (b - w.mean()) for a, b in zip(big_l, w)) / (len(w) - 1)
    var = sum((b - w.mean()) ** 2 for b in w) / (len(w) - 1)
    eta = -cov / var
    assert dev_from_weights(w, loss) == pytest.approx(big_l.mean() + eta * w.mean() - eta)
    assert dev_from_weights(np.ones(10), loss[:10]) == pytest.approx(loss[:10].mean())  # no shift: plain loss


def test_reverse_validation_recovers_labels_the_pseudo_labels_carry():
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(3, 8)) * 5
    y_t, y_s = rng.integers(0, 3, 90), rng.integers(0, 3, 60)
    f_t, f_s = centres[y_t] + rng.normal(size=(90, 8)), centres[y_s] + rng.normal(size=(60, 8))
    right, wrong = np.eye(3)[y_t], np.eye(3)[(y_t + 1) % 3]
    assert reverse_accuracy(f_t, right, f_s, y_s) > 0.95
    assert reverse_accuracy(f_t, wrong, f_s, y_s) < 0.05


def test_all_validators_are_computed_and_finite():
    rng = np.random.default_rng(3)
    f_s, f_t = rng.normal(size=(40, 6)), rng.normal(size=(40, 6)) + 1
    scores = label_free_scores((f_s, _probs(40, 3, 4), rng.integers(0, 3, 40)), (f_t, _probs(40, 3, 5)), f_s)
    assert set(scores) == set(VALIDATORS) and all(np.isfinite(v) for v in scores.values())


def _scores(**values):
    return {f"validators.{k}": v for k, v in values.items()}


def test_the_verdict_needs_both_best_validators_to_agree():
    twin = _scores(source_acc=0.9, entropy=-0.5, info_max=1.0, snd=3.0, dev=-0.3, reverse=0.6)
    better = _scores(source_acc=0.95, entropy=-0.3, info_max=1.2, snd=3.5, dev=-0.2, reverse=0.7)
    worse = _scores(source_acc=0.7, entropy=-0.9, info_max=0.8, snd=2.0, dev=-0.6, reverse=0.5)
    mixed = _scores(source_acc=0.95, entropy=-0.1, info_max=1.5, snd=4.0, dev=-0.6, reverse=0.7)
    assert verdict(better, twin, "reverse", "dev").label == "likely helped"
    assert verdict(worse, twin, "reverse", "dev").label == "likely hurt"
    mixed_verdict = verdict(mixed, twin, "reverse", "dev")  # every other validator up: still only the two count
    assert mixed_verdict.label == "cannot tell" and mixed_verdict.headline.startswith("Cannot tell")
    assert "0.600 for source only, 0.700 for this run" in mixed_verdict.headline
    assert verdict(better, {}) is None  # no twin (no source set): no verdict
