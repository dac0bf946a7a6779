"""The images an export is checked on, resized exactly as the Predictor resizes them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..predict import run_test_split


@dataclass
class TestImages:
    images: list[np.ndarray]  # decoded (H, W, 3) uint8, before resizing
    labels: np.ndarray
    ids: list[str]
    same_as_run: bool | None  # the ids match the run's target_test.json (None: the run has none)
    reference: np.ndarray | None = None  # the torch model's probabilities, once computed (verify.py)


def run_test_images(folder: str | Path) -> TestImages:
    """The run's target test split, rebuilt from its config.json as the training loop built it
    (same loader, seed and split), in the order of the run's saved test predictions."""
    folder = Path(folder)
    ids, images, labels = run_test_split(folder)
    try:
        saved = json.loads((folder / "target_test.json").read_text())["ids"]
    except (OSError, ValueError, KeyError):
        saved = None
    return TestImages(images, labels, ids, None if saved is None else saved == ids)
