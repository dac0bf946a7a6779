"""A finished run's target test images, at full resolution, for its heat maps.

The run folder keeps only 64-px thumbnails of them, fine for a
gallery but coarser than a run at 224 px saw. So the images are loaded again through the
run's own config (same seed, same splits, same label edits), without its source set, and
matched to the saved predictions by image id. When that fails (an uploaded set that is
gone, data that changed since) the thumbnails stand in, and ``note`` says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..run_folder import RunFolder

MAX_SIDE = 384  # kept per image: above every input size the UI offers, far below a photo


@dataclass(frozen=True)
class RunTestImages:
    ids: list[str]  # in the order of the run's saved test predictions
    images: list[np.ndarray]  # (H, W, 3) uint8, one per id
    note: str | None  # why the thumbnails are used, when they are


class RunImagesUnavailable(FileNotFoundError):
    """Neither the run's data nor its thumbnails can be read."""


def run_test_images(folder: str | Path) -> RunTestImages:
    files = RunFolder(folder)
    test_set = files.test_set()
    if test_set is None:
        raise RunImagesUnavailable(f"run folder {files.path} has no record of its test set yet")
    ids = test_set.ids
    try:
        return RunTestImages(ids, _reload(files, ids), None)
    except Exception as exc:  # any failure to reload (missing upload, changed data): fall back, say why
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    thumbs = files.test_thumbs()
    if thumbs is None:
        raise RunImagesUnavailable(f"the run's test images cannot be loaded ({reason}) and it kept no thumbnails")
    n = min(len(ids), len(thumbs))
    return RunTestImages(ids[:n], [thumbs[i] for i in range(n)],
                         f"the run's images could not be loaded again ({reason}); using its 64-px thumbnails")


def _reload(files: RunFolder, ids: list[str]) -> list[np.ndarray]:
    from ..predict import run_test_split  # the run's own loading path, imported on use: it is heavy
    test_ids, images, _ = run_test_split(files.path)
    by_id = dict(zip(test_ids, images))
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise LookupError(f"{len(missing)} of {len(ids)} test images are no longer in the data, e.g. {missing[0]}")
    keep = max(MAX_SIDE, files.config().data.image_size or 0)
    return [_shrink(by_id[i], keep) for i in ids]


def _shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    img = Image.fromarray(np.asarray(image)).convert("RGB")
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(img)
