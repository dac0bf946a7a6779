"""Small square previews of images (galleries, feature-map hover, suspect labels)."""
from __future__ import annotations

import numpy as np
from PIL import Image


def thumbnails(image_set, index: np.ndarray, px: int = 32) -> np.ndarray:
    """(len(index), px, px, 3) uint8: each image of ``index`` as RGB, squashed to a square."""
    out = np.zeros((len(index), px, px, 3), np.uint8)
    for k, i in enumerate(index):
        img = Image.fromarray(image_set.images[i]).convert("RGB")
        out[k] = np.asarray(img.resize((px, px), Image.Resampling.BILINEAR))
    return out
