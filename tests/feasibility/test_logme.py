"""LogME against a slow reference written straight from the probabilistic model.

The reference never uses the SVD: it evaluates log N(y; 0, beta^-1 I + alpha^-1 F F^T)
(the marginal of the Bayesian linear regression) and, separately, the paper's formula
with explicit inverse and determinant of A. Both must agree with the fast evidence, and a
general-purpose optimiser on the slow formula must find the same alpha, beta.
"""
import numpy as np
import pytest
from scipy.optimize import minimize

from tlcore.feasibility.logme import logme, one_hot


def marginal_evidence(f, y, alpha, beta):
    """log p(y) with y ~ N(0, C), C = I / beta + F F^T / alpha (w integrated out)."""
    n = len(y)
    c = np.eye(n) / beta + f @ f.T / alpha
    _, logdet = np.linalg.slogdet(c)
    return -0.5 * (n * np.log(2 * np.pi) + logdet + y @ np.linalg.inv(c) @ y)


def paper_evidence(f, y, alpha, beta):
    """The paper's closed form with A and m computed by explicit inverse and determinant."""
    n, d = f.shape
    a = alpha * np.eye(d) + beta * f.T @ f
    m = beta * np.linalg.inv(a) @ f.T @ y
    _, logdet = np.linalg.slogdet(a)
    return (n / 2 * np.log(beta) + d / 2 * np.log(alpha) - n / 2 * np.log(2 * np.pi)
            - beta / 2 * np.sum((f @ m - y) ** 2) - alpha / 2 * m @ m - logdet / 2)


def small_data(seed, n=40, d=8, k=3, signal=1.0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    labels[:k] = np.arange(k)  # every class present
    f = rng.normal(size=(n, d)) + signal * rng.normal(size=(k, d))[labels]
    return f, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(40, 8), (12, 30)])  # more images than dims, and fewer
def test_evidence_matches_slow_reference(seed, shape):
    f, labels = small_data(seed, *shape)
    result = logme(f, labels)
    ys = one_hot(labels).T
    # With n < D the evidence often peaks at a huge beta (the features interpolate the
    # column), where the explicit n x n inverse loses digits: a looser tolerance there.
    rel = 1e-8 if shape[0] > shape[1] else 1e-6
    for y, a, b, ev in zip(ys, result.alpha, result.beta, result.evidence):
        slow = marginal_evidence(f, y, a, b)
        if b * np.linalg.norm(f, 2) ** 2 / a < 1e10:  # else the explicit D x D inverse of A is round-off
            assert paper_evidence(f, y, a, b) == pytest.approx(slow, rel=rel, abs=rel)
        assert ev * len(y) == pytest.approx(slow, rel=rel, abs=rel)
    assert result.score == pytest.approx(np.mean(result.evidence))


@pytest.mark.parametrize("seed", [0, 3])
def test_alpha_beta_maximise_the_slow_evidence(seed):
    f, labels = small_data(seed)
    result = logme(f, labels)
    for y, a, b in zip(one_hot(labels).T, result.alpha, result.beta):
        best = minimize(lambda t: -marginal_evidence(f, y, np.exp(t[0]), np.exp(t[1])), x0=[0.0, 0.0],
                        method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 5000})
        assert np.log(a) == pytest.approx(best.x[0], abs=1e-3)
        assert np.log(b) == pytest.approx(best.x[1], abs=1e-3)
        ours = marginal_evidence(f, y, a, b)
        assert ours >= -best.fun - 1e-9
        # And a grid around the fixed point: nothing nearby is higher.
        for da in (-0.1, 0.0, 0.1):
            for db in (-0.1, 0.0, 0.1):
                assert marginal_evidence(f, y, a * np.exp(da), b * np.exp(db)) <= ours + 1e-12


def test_fixed_point_agrees_with_direct_maximisation():
    from tlcore.feasibility.logme import _profile_maximum
    f, labels = small_data(4)
    result = logme(f, labels)
    assert (result.iterations > 0).all()  # n > D: the paper's fixed point settles
    u, sv, _ = np.linalg.svd(f, full_matrices=False)
    for y, a, b in zip(one_hot(labels).T, result.alpha, result.beta):
        z = u.T @ y
        pa, pb = _profile_maximum(sv ** 2, z, y @ y - z @ z, len(y))
        assert (pa, pb) == (pytest.approx(a, rel=1e-5), pytest.approx(b, rel=1e-5))


def test_fewer_images_than_dims_still_reaches_the_maximum():
    f, labels = small_data(1, n=12, d=30)
    result = logme(f, labels)
    assert np.isfinite(result.evidence).all() and (result.iterations < 0).any()  # the fallback ran
    for y, a, b in zip(one_hot(labels).T, result.alpha, result.beta):
        best = minimize(lambda t: -marginal_evidence(f, y, np.exp(t[0]), np.exp(t[1])), x0=[0.0, 0.0],
                        method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 5000})
        assert marginal_evidence(f, y, a, b) >= -best.fun - 1e-6


def test_separating_features_score_higher_than_noise():
    f, labels = small_data(5, n=200, d=16, k=4, signal=3.0)
    noise = np.random.default_rng(6).normal(size=f.shape)
    assert logme(f, labels).score > logme(noise, labels).score + 0.1


def test_invariant_to_feature_rotation_and_robust_to_duplicate_columns():
    f, labels = small_data(7)
    q, _ = np.linalg.qr(np.random.default_rng(8).normal(size=(8, 8)))
    assert logme(f @ q, labels).score == pytest.approx(logme(f, labels).score, rel=1e-9)
    # A duplicated column makes F^T F singular: the SVD path must still match the reference.
    dup = np.hstack([f, f[:, :1]])
    result = logme(dup, labels)
    y = one_hot(labels)[:, 0]
    assert result.evidence[0] * len(y) == pytest.approx(
        marginal_evidence(dup, y, result.alpha[0], result.beta[0]), rel=1e-8)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        logme(np.zeros((5, 3)), np.zeros(4, int))
    with pytest.raises(ValueError):
        logme(np.full((5, 3), np.nan), np.zeros(5, int))
