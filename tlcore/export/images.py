"""The images an export is checked on, resized exactly as the Predictor resizes them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..predict import run_test_split
from ..run_folder import RunFolder


@dataclass
class TestImages:
    images: list[np.ndarray]  # decoded (H, W, 3) uint8, before resizing
    labels: np.ndarray
    ids: list[str]
    same_as_run: bool | None  # the ids match the run's recorded test set (None: the run has none)
    reference: np.ndarray | None = None  # the torch model's probabilities, once computed (verify.py)


def run_test_images(folder: str | Path) -> TestImages:
    """The run's target test split, rebuilt from its config.json as the training loop built it
    (same loader, seed and split), in the order of the run's saved test predictions."""
    ids, images, labels = run_test_split(folder)
    saved = RunFolder(folder).test_set()
    return TestImages(images, labels, ids, None if saved is None else saved.ids == ids)
