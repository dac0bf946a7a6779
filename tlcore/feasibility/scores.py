"""Transferability estimators besides LogME, on frozen features of the labelled target set.

- ``h_score``: Bao, Li, Huang, Wang, Xu, "An Information-theoretic Approach to
  Transferability in Task Transfer Learning", ICIP 2019:

      H(f) = tr( cov(f)^-1 cov(E[f | y]) )

  the between-class spread of the features relative to their total spread (between 0
  and K - 1 for K classes). With more feature dimensions than images, cov(f) is singular
  and its pseudo-inverse amplifies noise directions (measured: the plain H-score of 340
  images of 1,280-dim features is exactly K - 1 = 9 for ImageNet and random weights
  alike); ``shrinkage="auto"`` uses the Ledoit-Wolf shrunk covariance instead: the
  regularised H-score of Ibrahim, Ponomareva, Mazumder, "Newer is not always better:
  rethinking transferability metrics" (2022), which is what the ranking uses.
- ``probe_accuracy``: stratified k-fold accuracy of a logistic regression on standardised
  features: slower, but in units a user reads directly (and what a frozen backbone with a
  trained linear head would reach).
"""
from __future__ import annotations

import numpy as np


def class_means_per_sample(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(n, D): each row replaced by the mean feature of its class, i.e. E[f | y] per sample."""
    labels = np.asarray(labels)
    out = np.empty_like(features)
    for c in np.unique(labels):
        rows = labels == c
        out[rows] = features[rows].mean(0)
    return out


def h_score(features: np.ndarray, labels: np.ndarray, shrinkage: str | float | None = "auto") -> float:
    """H-score; ``shrinkage``: None (Bao et al., pseudo-inverse), "auto" (Ledoit-Wolf) or a
    fixed shrinkage in [0, 1] towards mu I, mu the mean variance (sklearn's convention):
    H = tr( ((1 - delta) cov(f) + delta mu I)^-1 (1 - delta) cov(E[f | y]) ).

    Computed in the SVD basis of the centred features, never forming a D x D inverse: the
    class means lie in the row space V of the features, so with cov(f) = V diag(s2) V^T
    (shrunk: (1 - delta) s2 + delta mu) the trace is sum_i ||G v_i||^2 / n / var_i.
    """
    f = np.asarray(features, dtype=np.float64)
    f = f - f.mean(0)
    n, d = f.shape
    _, sv, vt = np.linalg.svd(f, full_matrices=False)
    var = sv ** 2 / n
    if shrinkage is None:
        delta = 0.0
    elif shrinkage == "auto":
        from sklearn.covariance import ledoit_wolf_shrinkage
        delta = float(ledoit_wolf_shrinkage(f, assume_centered=True))
    else:
        delta = float(shrinkage)
    mu = var.sum() / d
    shrunk = (1 - delta) * var + delta * mu
    # As pinv's rcond: directions with 1e-10 of the top variance are round-off, not signal.
    keep = shrunk > 1e-10 * shrunk.max() if shrunk.size and shrunk.max() > 0 else shrunk > 0
    g = class_means_per_sample(f, labels) @ vt[keep].T  # (n, r): E[f | y] in the basis V
    # Ibrahim et al. shrink the between-class covariance by the same (1 - delta): without it a
    # heavy shrinkage (delta near 1 when D >> n) would inflate the score of pure noise.
    return float(np.sum((1 - delta) * (g ** 2).sum(0) / n / shrunk[keep]))


def probe_accuracy(features: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0, C: float = 1.0) -> float:
    """Mean stratified k-fold accuracy of a logistic regression on standardised features.

    The folds shrink to the smallest class count (at least 2) so a few-shot set still works;
    the scaler and the rotation are fitted inside each fold so no held-out statistics leak in.
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    labels = np.asarray(labels)
    smallest = np.bincount(np.unique(labels, return_inverse=True)[1]).min()
    k = int(min(folds, smallest))
    if k < 2:
        raise ValueError(f"a k-fold probe needs at least 2 images of every class; the smallest class has {smallest}")
    # An L2-penalised linear model's weights lie in the span of its training rows, and PCA
    # without whitening only rotates within that span: the same classifier, but lbfgs works
    # in n_train instead of D (1,280) dimensions, about ten times faster on a few hundred images.
    model = make_pipeline(StandardScaler(), PCA(random_state=seed),
                          LogisticRegression(C=C, max_iter=1000, random_state=seed))
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return float(cross_val_score(model, np.asarray(features, dtype=np.float64), labels, cv=cv).mean())
