"""CDAN+E, MCC, self-training (FixMatch/AdaMatch) and MME: each loss against its paper's
formula written out the long way in NumPy, and the gradient directions the methods rely on."""
import math

import numpy as np
import pytest
import torch

from tlcore.strategies.losses import (GradientReversal, cdan_entropy_weights, cdan_features, masked_pseudo_label_loss,
                                      mcc_loss)
from tlcore.strategies.mme import mme_entropy


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_mcc_is_the_papers_equations():
    """Jin et al. 2020: Eq. 1 rescaling, Eq. 2-3 entropy weights, Eq. 4 class correlation,
    Eq. 5 category normalisation, Eq. 6 the loss over the off-diagonal entries / K."""
    rng = np.random.default_rng(0)
    z, t = rng.normal(size=(20, 4)) * 2, 2.5
    y = softmax(z / t)
    h = -(y * np.log(y)).sum(1)
    w = len(y) * (1 + np.exp(-h)) / (1 + np.exp(-h)).sum()
    c = np.zeros((4, 4))
    for i in range(len(y)):
        c += w[i] * np.outer(y[i], y[i])
    c_tilde = c / c.sum(1, keepdims=True)
    expected = sum(abs(c_tilde[j, k]) for j in range(4) for k in range(4) if j != k) / 4
    assert mcc_loss(torch.tensor(z), t).item() == pytest.approx(expected, rel=1e-9)
    confident = torch.eye(4).repeat(5, 1) * 50  # one class per sample, all classes used: no confusion
    assert mcc_loss(confident, 1.0).item() == pytest.approx(0.0, abs=1e-6)


def test_cdan_multilinear_map_and_its_random_approximation():
    rng = np.random.default_rng(1)
    f, g = rng.normal(size=(3, 5)), softmax(rng.normal(size=(3, 4)))
    full = cdan_features(torch.tensor(f), torch.tensor(g)).numpy()
    assert full.shape == (3, 20)
    for i in range(3):  # row i is the flattened outer product g_i ⊗ f_i
        assert np.allclose(full[i], np.outer(g[i], f[i]).ravel())
    r_f, r_g = rng.normal(size=(5, 64)), rng.normal(size=(4, 64))
    rand = cdan_features(torch.tensor(f), torch.tensor(g), (torch.tensor(r_f), torch.tensor(r_g))).numpy()
    assert np.allclose(rand, (f @ r_f) * (g @ r_g) / math.sqrt(64))


def test_cdan_entropy_weights_favour_certain_predictions_within_each_domain():
    p = torch.tensor([[0.98, 0.02], [0.5, 0.5], [0.9, 0.1], [0.6, 0.4]], dtype=torch.float64)
    w = cdan_entropy_weights(p, n_source=2).numpy()
    h = -(p * p.log()).sum(1).numpy()
    raw = 1 + np.exp(-h)
    per_domain = np.r_[raw[:2] / raw[:2].sum(), raw[2:] / raw[2:].sum()]
    assert np.allclose(w, per_domain / per_domain.sum() * 4)
    assert w[0] > w[1] and w[2] > w[3]
    assert w[:2].sum() == pytest.approx(w[2:].sum())  # each domain counts the same


def test_pseudo_label_loss_is_fixmatchs_masked_mean():
    """Sohn et al. 2020, Eq. 4: (1/mu B) sum 1(max q >= tau) H(q_hat, p(strong))."""
    p_weak = torch.tensor([[0.95, 0.05], [0.6, 0.4], [0.02, 0.98]])
    strong = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.5, 0.1]])
    loss, mask = masked_pseudo_label_loss(p_weak, strong, 0.9)
    log_p = strong - strong.logsumexp(1, keepdim=True)
    expected = (-log_p[0, 0] - log_p[2, 1]) / 3  # sample 2 is below the threshold: 0, but counted in the mean
    assert mask.tolist() == [1.0, 0.0, 1.0]
    assert loss.item() == pytest.approx(expected.item())


def test_mme_head_maximises_and_features_minimise_the_entropy():
    torch.manual_seed(0)
    head = torch.nn.Linear(6, 3)
    f = torch.randn(10, 6, requires_grad=True)
    h = mme_entropy(head, GradientReversal(), f)
    (-0.1 * h).backward()  # MME's loss term
    head_grad, feat_grad = head.weight.grad.clone(), f.grad.clone()
    # The same entropy without the reversal: its plain gradients.
    head.zero_grad()
    g = f.detach().requires_grad_(True)
    from tlcore.strategies.losses import entropy
    entropy(head(g).softmax(1)).mean().backward()
    assert torch.allclose(head_grad, -0.1 * head.weight.grad, atol=1e-7)  # head: descends on -H, raises H
    assert torch.allclose(feat_grad, 0.1 * g.grad, atol=1e-7)  # features: descend on +H, lower it
