"""The one feature extractor: pooled backbone features of a data set, in order, and the
linear probe on them.

Used by the training loop (the feature cache: when every backbone stage is frozen and
augmentation is off, a backbone's output for an image never changes, so it is computed
once and the head trains on cached tensors; and the before-transfer probe), by the
feature-map snapshots, the pretrained map and the feasibility check.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from torch.utils.data import Dataset, TensorDataset

from .data.pipeline import BatchPreprocess, stacked_batches
from .metrics import classification_metrics


@torch.no_grad()
def extract_features(backbone, dataset: Dataset, preprocess=None, batch_size: int = 64, fabric=None) -> torch.Tensor:
    """(N, D) float32 CPU features of every item of ``dataset`` (uint8 images), in order, with
    the backbone in eval mode (its mode is restored after). ``preprocess`` defaults to the
    backbone's own normalisation; ``fabric`` (Lightning Fabric) moves batches to its device
    under its precision, without it everything runs on the CPU in fp32."""
    if preprocess is None:
        preprocess = BatchPreprocess(backbone.info.mean, backbone.info.std)
    was_training = backbone.training
    backbone.eval()
    chunks = []
    for x, _ in stacked_batches(dataset, batch_size):
        if fabric is None:
            chunks.append(backbone.forward_features(preprocess(x)).float())
            continue
        x = preprocess(fabric.to_device(x))
        with fabric.autocast():
            chunks.append(backbone.forward_features(x).float().cpu())
    backbone.train(was_training)
    return torch.cat(chunks) if chunks else torch.zeros(0, backbone.feature_dim)


def feature_dataset(features: torch.Tensor, dataset) -> TensorDataset:
    """Features with the labels and indices of the image dataset they came from."""
    return TensorDataset(features, torch.as_tensor(dataset.labels), torch.arange(len(dataset)))


class ProbeHead:
    """Logistic regression on features standardised by the training rows' mean and std
    (sklearn): the head of the feasibility checks."""

    def __init__(self, train_f: np.ndarray, train_y: np.ndarray, seed: int = 0, C: float = 1.0):
        self.mu, self.sd = train_f.mean(0), train_f.std(0) + 1e-6
        self.clf = LogisticRegression(C=C, max_iter=1000, random_state=seed).fit(self._scale(train_f), train_y)
        self.classes = self.clf.classes_

    def _scale(self, f: np.ndarray) -> np.ndarray:
        return (f - self.mu) / self.sd

    def predict(self, f: np.ndarray) -> np.ndarray:
        return self.clf.predict(self._scale(f))

    def predict_proba(self, f: np.ndarray) -> np.ndarray:
        """(N, len(self.classes)): columns follow ``self.classes``, the labels seen in training."""
        return self.clf.predict_proba(self._scale(f))


# Inverse L2 strengths tried on the validation split, strong to weak: with a few labelled
# images of 1,000+ dimensional features the best is often well below sklearn's default 1.
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


class SoftmaxHead:
    """Multinomial logistic regression on standardised features, fitted to convergence by
    full-batch L-BFGS (torch.optim.LBFGS, strong Wolfe line search): sklearn's objective,
    ``C * sum(cross-entropy) + |W|^2 / 2`` (the bias unpenalised), divided by ``C * n``.
    sklearn's own solver (scipy's L-BFGS-B) took 5 s a fit on 1,000 x 1,280 features here,
    this one well under a second; tests/test_linear_head.py checks they agree."""

    def __init__(self, train_f: np.ndarray, train_y: np.ndarray, num_classes: int, C: float = 1.0,
                 warm_from: SoftmaxHead | None = None):
        sd = train_f.std(0)
        # A feature that barely varies on the training images would get a huge weight once the
        # scaling is folded into the layer, and LP-FT's fine-tuning, moving it, blew up such a
        # head (val 0.2 against the head's 0.67 after 5 epochs): scale by at least 0.1 x median.
        self.mu, self.sd, self.C = train_f.mean(0), np.maximum(sd, 0.1 * np.median(sd)) + 1e-6, C
        self.classes = np.arange(num_classes)
        x, y = self._scale(train_f), torch.as_tensor(train_y, dtype=torch.long)
        self.weight = torch.zeros(num_classes, x.shape[1], requires_grad=True)
        self.bias = torch.zeros(num_classes, requires_grad=True)
        if warm_from is not None:  # the neighbouring C's solution: L-BFGS starts near the optimum
            with torch.no_grad():
                self.weight.copy_(warm_from.weight)
                self.bias.copy_(warm_from.bias)
        optimizer = torch.optim.LBFGS([self.weight, self.bias], lr=1, max_iter=500, history_size=20,
                                      tolerance_grad=1e-5, tolerance_change=1e-9, line_search_fn="strong_wolfe")
        penalty = 1.0 / (2.0 * C * len(y))

        def objective():
            optimizer.zero_grad()
            loss = F.cross_entropy(x @ self.weight.T + self.bias, y) + penalty * self.weight.pow(2).sum()
            loss.backward()
            return loss

        with _one_thread():
            optimizer.step(objective)
        self.weight.requires_grad_(False)
        self.bias.requires_grad_(False)

    def _scale(self, f: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((f - self.mu) / self.sd, dtype=torch.float32)

    def logits(self, f: np.ndarray) -> torch.Tensor:
        return self._scale(f) @ self.weight.T + self.bias

    def predict(self, f: np.ndarray) -> np.ndarray:
        return self.logits(f).argmax(1).numpy()

    def predict_proba(self, f: np.ndarray) -> np.ndarray:
        return self.logits(f).softmax(1).numpy()

    def linear_weights(self, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, b) of an nn.Linear(D, num_classes) on raw features with the same logits: the
        standardisation folded in."""
        sd, mu = torch.as_tensor(self.sd, dtype=torch.float32), torch.as_tensor(self.mu, dtype=torch.float32)
        w = self.weight / sd
        return w.float(), (self.bias - w @ mu).float()


@contextmanager
def _one_thread():
    """Small full-batch ops: a second torch thread only adds hand-offs (measured here on a
    loaded 2-core machine: the fits ran 100x slower with two threads than with one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass
class LinearFit:
    head: SoftmaxHead  # the chosen one
    C: float
    candidates: list[dict]  # per C: val accuracy and log-loss, train loss and accuracy
    seconds: float  # all the fits together


def fit_linear_head(train_f: np.ndarray, train_y: np.ndarray, val_f: np.ndarray | None, val_y: np.ndarray | None,
                    num_classes: int | None = None) -> LinearFit:
    """The optimal linear head on frozen features: multinomial logistic regression fitted to
    convergence for each C of C_GRID, the C chosen on the validation split (its accuracy,
    then its log-loss, then the nearest to 1). Without validation images: C = 1.
    Deterministic: the same features give the same head, so the before-transfer probe and a
    frozen-backbone run that use it agree image for image."""
    started = time.perf_counter()
    has_val = val_f is not None and len(val_f) > 0
    k = num_classes or int(max(train_y.max(), val_y.max() if has_val else 0)) + 1
    fits, previous = [], None
    for C in C_GRID if has_val else (1.0,):
        head = SoftmaxHead(train_f, train_y, k, C, warm_from=previous)
        row = {"C": C, **_fit_scores(head, train_f, train_y, "train")}
        if has_val:
            row.update(_fit_scores(head, val_f, val_y, "val"))
        fits.append((head, row))
        previous = head
    rows = [row for _, row in fits]
    best = max(range(len(fits)), key=lambda i: (rows[i].get("val_accuracy", 0.0), -rows[i].get("val_loss", 0.0),
                                                 -abs(np.log10(rows[i]["C"]))))
    return LinearFit(fits[best][0], rows[best]["C"], rows, time.perf_counter() - started)


def _fit_scores(head: SoftmaxHead, f: np.ndarray, y: np.ndarray, prefix: str) -> dict:
    proba = head.predict_proba(f)
    picked = np.clip(proba[np.arange(len(y)), y], 1e-12, 1.0)
    return {f"{prefix}_accuracy": float((proba.argmax(1) == y).mean()), f"{prefix}_loss": float(-np.log(picked).mean())}


def linear_probe(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray, test_y: np.ndarray,
                 class_names, seed: int = 0, val_f: np.ndarray | None = None, val_y: np.ndarray | None = None) -> dict:
    """Logistic regression on frozen features: what the backbone gives before any training.
    With a validation split its L2 strength is chosen there (``fit_linear_head``), else C = 1."""
    if len(np.unique(train_y)) < 2:
        pred = np.full(len(test_y), train_y[0] if len(train_y) else 0)
    elif val_f is not None:
        pred = fit_linear_head(train_f, train_y, val_f, val_y, len(class_names)).head.predict(test_f)
    else:
        pred = ProbeHead(train_f, train_y, seed).predict(test_f)
    return classification_metrics(test_y, pred, class_names)
