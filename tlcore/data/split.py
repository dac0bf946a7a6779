"""Deterministic, stratified train/val/test split."""
from __future__ import annotations

import numpy as np


def stratified_split(labels, val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0) -> np.ndarray:
    """Assign each sample to train/val/test, class by class, reproducibly for a seed.

    Written per class rather than with sklearn's train_test_split because the user's
    classes can be tiny: a class of 2 images still gets one train and one test image
    (sklearn's stratified splitter refuses classes smaller than the number of splits).
    Every class keeps at least one training image; val and test get at least one image
    each when the class has enough images for that.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be in [0, 1) and sum to less than 1")
    labels = np.asarray(labels)
    splits = np.empty(len(labels), dtype=object)
    rng = np.random.default_rng(seed)
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        n = len(idx)
        n_test = max(1, round(n * test_fraction)) if test_fraction > 0 and n >= 2 else 0
        n_val = max(1, round(n * val_fraction)) if val_fraction > 0 and n - n_test >= 2 else 0
        n_test = min(n_test, n - 1)
        n_val = min(n_val, n - n_test - 1)
        splits[idx[:n_test]] = "test"
        splits[idx[n_test:n_test + n_val]] = "val"
        splits[idx[n_test + n_val:]] = "train"
    return splits
