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
