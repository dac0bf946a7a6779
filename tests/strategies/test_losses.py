"""Each adaptation loss against a NumPy transcription of its paper's formula."""
import numpy as np
import pytest
import torch

from tlcore.strategies.losses import CoralLoss, GradientReversal, MMDLoss, dann_lambda


def test_gradient_reversal_flips_and_scales_the_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    GradientReversal()(x, 0.7).sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, -0.7))
    y = torch.randn(4, 3, requires_grad=True)
    out = GradientReversal()(y, 0.7)
    assert torch.equal(out, y)  # identity forward


def test_coral_matches_the_paper():
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(32, 6)), rng.normal(2, 3, size=(40, 6))

    def cov(x):  # Sun & Saenko, eq. 2
        n = len(x)
        ones = np.ones((1, n))
        return (x.T @ x - (ones @ x).T @ (ones @ x) / n) / (n - 1)

    expected = np.sum((cov(s) - cov(t)) ** 2) / (4 * 6 ** 2)
    got = CoralLoss()(torch.tensor(s), torch.tensor(t)).item()
    assert got == pytest.approx(expected, rel=1e-5)
    assert CoralLoss()(torch.tensor(s), torch.tensor(s)).item() == pytest.approx(0, abs=1e-7)


def test_mmd_matches_the_multi_kernel_formula():
    rng = np.random.default_rng(1)
    s, t = rng.normal(size=(16, 5)), rng.normal(0.5, 1, size=(16, 5))
    pooled = np.concatenate([s, t])
    sq = ((pooled[:, None, :] - pooled[None, :, :]) ** 2).sum(-1)
    base = sq.sum() / (len(pooled) ** 2 - len(pooled))
    k = sum(np.exp(-sq / (base * 2.0 ** o)) for o in (-2, -1, 0, 1, 2))
    expected = k[:16, :16].mean() + k[16:, 16:].mean() - 2 * k[:16, 16:].mean()
    got = MMDLoss()(torch.tensor(s), torch.tensor(t)).item()
    assert got == pytest.approx(expected, rel=1e-4)
    far = MMDLoss()(torch.tensor(s), torch.tensor(s + 5)).item()
    assert far > got > 0


def test_dann_lambda_schedule():
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(1.0) == pytest.approx(2 / (1 + np.exp(-10)) - 1)
    assert 0 < dann_lambda(0.1) < dann_lambda(0.5) < 1
