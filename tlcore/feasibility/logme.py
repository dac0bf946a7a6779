"""LogME: how well frozen features explain the labels, without training anything.

You, Liu, Wang, Long, "LogME: Practical Assessment of Pre-trained Models for Transfer
Learning", ICML 2021, Algorithm 1.

For each class k the one-hot column ``y`` (n,) of that class is modelled as a Bayesian
linear regression on the features ``F`` (n, D):

    w ~ N(0, alpha^-1 I_D),    y | F, w ~ N(F w, beta^-1 I_n)

and the score is the log marginal evidence, maximised over alpha and beta:

    L(alpha, beta) = log p(y | F, alpha, beta)
                   = n/2 log beta + D/2 log alpha - n/2 log 2 pi
                     - beta/2 ||F m - y||^2 - alpha/2 m^T m - 1/2 log |A|
    A = alpha I + beta F^T F,    m = beta A^-1 F^T y

Setting dL/dalpha = dL/dbeta = 0 gives MacKay's fixed point

    gamma = sum_i beta s_i / (alpha + beta s_i)
    alpha <- gamma / m^T m,    beta <- (n - gamma) / ||F m - y||^2

where s_i are the eigenvalues of F^T F. With the thin SVD F = U S V^T (done once, shared
by every class and every iteration) and z = U^T y, everything is a sum over r = rank terms:

    m^T m        = sum_i beta^2 s_i z_i^2 / (alpha + beta s_i)^2
    ||F m - y||^2 = sum_i (alpha z_i / (alpha + beta s_i))^2 + (||y||^2 - ||z||^2)
    log |A|      = sum_{i<=r} log(alpha + beta s_i) + (D - r) log alpha

so an iteration costs O(r), and the whole score one SVD. LogME is L / n at the converged
alpha, beta, averaged over the classes (higher is better; it is comparable across
backbones on the same data, not across data sets).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LogMEResult:
    score: float  # mean over classes of the evidence per sample
    evidence: np.ndarray  # (K,) evidence per sample of each class column
    alpha: np.ndarray  # (K,) converged prior precision
    beta: np.ndarray  # (K,) converged noise precision
    iterations: np.ndarray  # (K,) fixed-point iterations; negative where it gave up (see logme)


def one_hot(labels: np.ndarray) -> np.ndarray:
    """(n, K) float64 one-hot targets of the classes present in ``labels``, in sorted order."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    return (labels[:, None] == classes[None, :]).astype(np.float64)


def _terms(alpha, beta, s, z, out_of_span):
    """(m^T m, ||F m - y||^2, gamma) from the SVD quantities (see the module docstring)."""
    denom = alpha + beta * s
    mm = float(np.sum(s * (beta * z / denom) ** 2))  # this order cannot overflow for huge beta
    res = float(np.sum((alpha * z / denom) ** 2) + out_of_span)
    gamma = float(np.sum(beta * s / denom))
    return mm, res, gamma


def evidence_from_svd(alpha: float, beta: float, s: np.ndarray, z: np.ndarray, out_of_span: float,
                      n: int, d: int) -> float:
    """log p(y | F, alpha, beta) (the total, not per sample) from the SVD quantities."""
    mm, res, _ = _terms(alpha, beta, s, z, out_of_span)
    logdet = np.sum(np.log(alpha + beta * s)) + (d - len(s)) * np.log(alpha)
    return float(n / 2 * np.log(beta) + d / 2 * np.log(alpha) - n / 2 * np.log(2 * np.pi)
                 - beta / 2 * res - alpha / 2 * mm - logdet / 2)


def _profile_maximum(s: np.ndarray, z: np.ndarray, out_of_span: float, n: int) -> tuple[float, float]:
    """(alpha, beta) maximising the evidence along lambda = alpha / beta, beta profiled out.

    For a fixed lambda the best beta is n / Q(lambda) with
    Q = sum_i z_i^2 lambda / (lambda + s_i) + out_of_span, which leaves the 1-D function
    n/2 log(n / Q) - 1/2 sum_i log(1 + s_i / lambda) (up to constants): a coarse grid over
    log lambda, then a bounded Brent search around the best grid point.
    """
    from scipy.optimize import minimize_scalar

    def neg(t):
        lam = np.exp(t)
        q = float(np.sum(z ** 2 * lam / (lam + s)) + out_of_span)
        return -(n / 2 * np.log(n / max(q, 1e-300)) - 0.5 * np.sum(np.log1p(s / lam)))

    centre = np.log(s.max()) if s.size else 0.0
    grid = np.linspace(centre - 40, centre + 40, 161)
    best = int(np.argmin([neg(t) for t in grid]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    t = minimize_scalar(neg, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10}).x
    lam = np.exp(t)
    beta = n / max(float(np.sum(z ** 2 * lam / (lam + s)) + out_of_span), 1e-300)
    return lam * beta, beta


def logme(features: np.ndarray, labels: np.ndarray, tol: float = 1e-8, max_iter: int = 1000) -> LogMEResult:
    """LogME of ``features`` (n, D) for integer class ``labels`` (n,). See the module docstring.

    Each class column runs the paper's fixed point until alpha and beta change by less
    than ``tol`` (relative). When it does not settle, which happens when the features span
    every direction of R^n (n <= D, the usual case for a few hundred images of 1,280-dim
    features: any column is fitted exactly and the evidence may rise towards beta -> inf),
    the evidence is maximised directly along alpha / beta instead (``_profile_maximum``).
    The official code hides this by stopping after 11 iterations whatever the state.
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) != len(labels) or len(f) < 2:
        raise ValueError(f"need (n, D) features with n >= 2 matching the labels; got {f.shape} and {len(labels)}")
    if not np.isfinite(f).all():
        raise ValueError("features contain NaN or inf")
    n, d = f.shape
    y_all = one_hot(labels)
    u, sv, _ = np.linalg.svd(f, full_matrices=False)
    top = sv.max() if sv.size else 0.0
    keep = sv > top * max(n, d) * np.finfo(np.float64).eps if top > 0 else sv > 0
    u, s = u[:, keep], sv[keep] ** 2  # numerically null directions carry no z: drop them
    evidence, alphas, betas, iters = [], [], [], []
    for y in y_all.T:
        z = u.T @ y
        out_of_span = max(float(y @ y - z @ z), 0.0)
        alpha, beta = 1.0, 1.0  # the paper's initialisation
        converged = False
        for it in range(1, max_iter + 1):  # noqa: B007 - the count is kept after the loop
            mm, res, gamma = _terms(alpha, beta, s, z, out_of_span)
            if not (mm > 0 and res > 0 and n > gamma):
                break  # a precision would go to 0 or infinity: no interior fixed point this way
            new_alpha, new_beta = gamma / mm, (n - gamma) / res
            converged = abs(new_alpha - alpha) <= tol * alpha and abs(new_beta - beta) <= tol * beta
            alpha, beta = new_alpha, new_beta
            if converged or not (np.isfinite(alpha) and np.isfinite(beta) and alpha > 0 and beta > 0):
                break
        if not converged:
            alpha, beta = _profile_maximum(s, z, out_of_span, n)
            it = -it  # negative: the fixed point gave up after |it| steps
        evidence.append(evidence_from_svd(alpha, beta, s, z, out_of_span, n, d) / n)
        alphas.append(alpha)
        betas.append(beta)
        iters.append(it)
    evidence = np.array(evidence)
    return LogMEResult(float(evidence.mean()), evidence, np.array(alphas), np.array(betas), np.array(iters))


def logme_score(features: np.ndarray, labels: np.ndarray) -> float:
    return logme(features, labels).score
