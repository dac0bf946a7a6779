"""Images (uint8 arrays) to normalised model input tensors."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def to_tensor(images: list[np.ndarray], size: int, mean, std) -> torch.Tensor:
    """Resize each image to size x size (bilinear; the whole image, no crop) and normalise.

    The whole image is kept rather than centre-cropped: user images are often small
    objects near an edge, and the built-in digits fill their frame.
    """
    batch = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BILINEAR))
                      for im in images])
    x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - mean) / std
