"""Domain-adaptation losses as small nn.Modules: ``forward(f_s, f_t)``.

Each is checked against a NumPy transcription of its paper's formula in the tests.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class _ReverseGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lambd):
        ctx.lambd = lambd
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.lambd * grad, None


class GradientReversal(nn.Module):
    """Identity forward, gradient times -lambda backward (Ganin & Lempitsky 2015)."""

    def forward(self, x: torch.Tensor, lambd: float = 1.0) -> torch.Tensor:
        return _ReverseGrad.apply(x, lambd)


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """The DANN paper's ramp 2 / (1 + exp(-gamma p)) - 1: 0 at the start, near 1 at the end."""
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


class CoralLoss(nn.Module):
    """Deep CORAL (Sun & Saenko 2016): ||C_s - C_t||_F^2 / (4 d^2) for feature covariances."""

    def forward(self, f_s: torch.Tensor, f_t: torch.Tensor) -> torch.Tensor:
        d = f_s.shape[1]
        return (_covariance(f_s) - _covariance(f_t)).pow(2).sum() / (4 * d * d)


def _covariance(f: torch.Tensor) -> torch.Tensor:
    f = f.float()
    centred = f - f.mean(0, keepdim=True)
    return centred.T @ centred / max(f.shape[0] - 1, 1)


class MMDLoss(nn.Module):
    """Multi-kernel Gaussian MMD^2 (Long et al. 2015, DAN), biased estimator.

    Kernels exp(-||x - y||^2 / b) with bandwidths b = base * multiplier^k, k centred on 0,
    where base is the mean squared distance within the pooled batch (the usual heuristic).
    """

    def __init__(self, num_kernels: int = 5, multiplier: float = 2.0):
        super().__init__()
        self.num_kernels = num_kernels
        self.multiplier = multiplier

    def forward(self, f_s: torch.Tensor, f_t: torch.Tensor) -> torch.Tensor:
        n = f_s.shape[0]
        pooled = torch.cat([f_s, f_t]).float()
        sq = torch.cdist(pooled, pooled).pow(2)
        base = sq.detach().sum() / (pooled.shape[0] ** 2 - pooled.shape[0])
        offsets = [k - self.num_kernels // 2 for k in range(self.num_kernels)]
        kernel = sum(torch.exp(-sq / (base * self.multiplier ** o)) for o in offsets)
        return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()


def entropy(p: torch.Tensor) -> torch.Tensor:
    """Per-sample entropy of probability rows."""
    return -(p * torch.log(p.clamp_min(1e-12))).sum(1)


def mcc_loss(logits: torch.Tensor, temperature: float = 2.5) -> torch.Tensor:
    """Minimum Class Confusion (Jin et al., ECCV 2020), Eq. 1-6: Ŷ = softmax(z / T); W_ii =
    B (1 + exp(-H(Ŷ_i))) / sum_j (1 + exp(-H(Ŷ_j))); C = Ŷᵀ W Ŷ; C̃ = C with each row divided by
    its sum; loss = sum_{j != j'} |C̃_jj'| / K."""
    p = (logits / temperature).softmax(1)
    w = 1 + torch.exp(-entropy(p).detach())
    w = len(p) * w / w.sum()
    confusion = p.T @ (w[:, None] * p)
    confusion = confusion / confusion.sum(1, keepdim=True)
    k = confusion.shape[0]
    return (confusion.sum() - confusion.trace()) / k


def cdan_features(f: torch.Tensor, p: torch.Tensor, random_maps: tuple[torch.Tensor, torch.Tensor] | None = None):
    """CDAN's conditioning (Long et al., NeurIPS 2018): the multilinear map f ⊗ g flattened
    (B x d*K), or with ``random_maps`` (R_f d x n, R_g K x n) the randomised one
    (f R_f) ⊙ (g R_g) / sqrt(n)."""
    if random_maps is None:
        return torch.bmm(p.unsqueeze(2), f.unsqueeze(1)).flatten(1)
    r_f, r_g = random_maps
    return (f @ r_f) * (p @ r_g) / math.sqrt(r_f.shape[1])


def cdan_entropy_weights(p: torch.Tensor, n_source: int) -> torch.Tensor:
    """CDAN+E's weights w = 1 + exp(-H(g)), normalised to sum to 1 within each domain (the
    official code), then scaled to the batch so a uniform weight is 1."""
    w = 1 + torch.exp(-entropy(p))
    w_s, w_t = w[:n_source], w[n_source:]
    w = torch.cat([w_s / w_s.sum(), w_t / w_t.sum()])
    return (w / w.sum() * len(w)).detach()


def masked_pseudo_label_loss(p_weak: torch.Tensor, logits_strong: torch.Tensor, threshold: float | torch.Tensor):
    """FixMatch's unlabelled loss (Sohn et al. 2020, Eq. 4): cross-entropy of the strong view
    against the weak view's argmax, for the samples whose top probability passes the
    threshold, averaged over ALL unlabelled samples. Returns (loss, mask)."""
    confidence, pseudo = p_weak.max(1)
    mask = (confidence >= threshold).float()
    loss = (torch.nn.functional.cross_entropy(logits_strong, pseudo, reduction="none") * mask).mean()
    return loss, mask
