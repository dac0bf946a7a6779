"""The one feature extractor: pooled backbone features of a data set, in order, and the
linear probe on them.

Used by the training loop (the feature cache: when every backbone stage is frozen and
augmentation is off, a backbone's output for an image never changes, so it is computed
once and the head trains on cached tensors; and the before-transfer probe), by the
feature-map snapshots, the pretrained map and the feasibility check.
"""
from __future__ import annotations

import numpy as np
import torch
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
    """Logistic regression on features standardised by the training rows' mean and std: the
    head of the before-transfer probe and of the feasibility checks."""

    def __init__(self, train_f: np.ndarray, train_y: np.ndarray, seed: int = 0):
        self.mu, self.sd = train_f.mean(0), train_f.std(0) + 1e-6
        self.clf = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit(self._scale(train_f), train_y)
        self.classes = self.clf.classes_

    def _scale(self, f: np.ndarray) -> np.ndarray:
        return (f - self.mu) / self.sd

    def predict(self, f: np.ndarray) -> np.ndarray:
        return self.clf.predict(self._scale(f))

    def predict_proba(self, f: np.ndarray) -> np.ndarray:
        """(N, len(self.classes)): columns follow ``self.classes``, the labels seen in training."""
        return self.clf.predict_proba(self._scale(f))


def linear_probe(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray, test_y: np.ndarray,
                 class_names, seed: int = 0) -> dict:
    """Logistic regression on frozen features: what the backbone gives before any training."""
    if len(np.unique(train_y)) < 2:
        pred = np.full(len(test_y), train_y[0] if len(train_y) else 0)
    else:
        pred = ProbeHead(train_f, train_y, seed).predict(test_f)
    return classification_metrics(test_y, pred, class_names)
