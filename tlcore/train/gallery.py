"""Files the dashboard reads while a run trains: the target test images as small
thumbnails (written once), the latest test predictions (every epoch) and a strategy's
artifacts (instance weights). Plain JSON and .npy, never pickles."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

THUMB_PX = 64
MAX_THUMBS = 2000  # 24 MB at 64 px; the gallery shows a few dozen, the rest are listed by name


def _write_atomic(path: Path, text: str) -> None:
    # The dashboard may read while we write: it sees the old file or the new one, never half.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def save_test_gallery(out_dir: Path, ctx) -> None:
    """Thumbnails of the target test images, in the order predictions are reported, plus
    the class names and image ids, so the UI never has to reload the data."""
    data = ctx.data
    index = data.target_index("test")[:MAX_THUMBS]
    thumbs = np.zeros((len(index), THUMB_PX, THUMB_PX, 3), np.uint8)
    for k, i in enumerate(index):
        img = Image.fromarray(data.target.images[i]).convert("RGB")
        thumbs[k] = np.asarray(img.resize((THUMB_PX, THUMB_PX), Image.Resampling.BILINEAR))
    np.save(out_dir / "target_test_thumbs.npy", thumbs, allow_pickle=False)
    _write_atomic(out_dir / "target_test.json", json.dumps(
        {"class_names": list(data.class_names), "ids": [data.target.ids[i] for i in data.target_index("test")]}))


def save_test_predictions(out_dir: Path, epoch: int, details: dict) -> None:
    """The target test predictions of the latest evaluated epoch (true, predicted, confidence)."""
    _write_atomic(out_dir / "target_test_predictions.json", json.dumps({"epoch": epoch, **details["predictions"]}))


def write_artifacts(out_dir: Path, strategy) -> None:
    for name, content in strategy.artifacts().items():
        _write_atomic(out_dir / name, json.dumps(content))
