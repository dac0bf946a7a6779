"""Augmentation presets, applied per sample to uint8 batches in memory on the training device,
and the preview grid the Model page shows.

Every image of a batch gets its own random parameters (crop box, flip, jitter factors,
TrivialAugment operation). torchvision.transforms.v2 draws ONE set of parameters per call,
so a batched tensor would get one crop for all its images; ``augment_batch`` therefore calls
the transform once per image. Measured against kornia's batched transforms in BENCHMARKS.md
("Augmentation speed", ``python benchmarks/augment_speed.py``).

The parameters come from torch's global RNG (the training loop seeds it every epoch), so a
seeded run replays on the CPU; pass a ``torch.Generator`` to draw from it instead and leave
the global RNG as it was.

Contract: uint8 (N, 3, H, W) in, uint8 (N, 3, H, W) out, on the same device, image i still
image i (labels keep their order). uint8 out, not float: it is what the transforms compute
in (TrivialAugment's posterize/solarize/equalize are defined on 0..255), what a preview
shows, and BatchPreprocess turns it to float and normalises it as it does an unaugmented
batch.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

# What the Train page and the CLI offer (tlcore.config.AUGMENTATIONS lists the same names).
# standard and strong mirror images, and a mirrored digit or letter is not the same class:
# for digits and text, light is the one to use (the descriptions say so).
PRESETS = {
    "none": "no augmentation: the images as they are",
    "light": "a small random shift (up to 1/8 of the side, edges repeated) and brightness ±10%",
    "standard": "random resized crop (60-100% of the area), horizontal flip (not for digits or text), "
                "brightness and contrast ±30%, saturation ±20%",
    "strong": "standard's crop and flip (not for digits or text), then one random TrivialAugmentWide "
              "operation per image (rotate, shear, colour, contrast, posterize, ...)",
}
# Accepted so that recorded run configs still replay, but no longer offered.
ALIASES = {"flip": "light plus a horizontal flip (the earlier 'flip' preset)"}
# Used by strategies, not offered: self-training's strong view of an unlabelled image (FixMatch's
# RandAugment in spirit) must not mirror it, since digits and text are among the targets.
VIEWS = {"consistency": "light's shift, then one random TrivialAugmentWide operation (no flip)"}

CROP_SCALE = (0.6, 1.0)  # standard/strong: a crop keeps at least 60% of the image area


def check_preset(preset: str) -> None:
    if preset not in PRESETS and preset not in ALIASES and preset not in VIEWS:
        raise ValueError(f"unknown augmentation {preset!r}; valid: {', '.join(PRESETS)}")


@lru_cache(maxsize=32)
def _transform(preset: str, height: int, width: int):
    """The per-image torchvision v2 transform of a preset (None for 'none')."""
    from torchvision.transforms import v2  # here: only runs that augment pay for importing it
    check_preset(preset)
    size = (height, width)
    crop_flip = [v2.RandomResizedCrop(size, scale=CROP_SCALE, antialias=True), v2.RandomHorizontalFlip()]
    shift = [v2.RandomCrop(size, padding=max(1, min(size) // 8), padding_mode="edge"),
             v2.ColorJitter(brightness=0.1)]
    steps = {
        "none": None,
        "light": shift,
        "flip": shift + [v2.RandomHorizontalFlip()],
        "standard": crop_flip + [v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.2)],
        "strong": crop_flip + [v2.TrivialAugmentWide()],
        "consistency": shift + [v2.TrivialAugmentWide()],
    }[preset]
    return None if steps is None else v2.Compose(steps)


def augment_batch(x_uint8: torch.Tensor, preset: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """``preset`` applied to each image of a uint8 (N, 3, H, W) batch with its own random
    parameters; uint8 (N, 3, H, W) out, in the same order (see the module docstring)."""
    if x_uint8.dtype != torch.uint8 or x_uint8.ndim != 4 or x_uint8.shape[1] != 3:
        raise ValueError(f"augment_batch takes a uint8 (N, 3, H, W) batch, got {x_uint8.dtype} "
                         f"{tuple(x_uint8.shape)}")
    transform = _transform(preset, *x_uint8.shape[-2:])
    if transform is None or not len(x_uint8):
        return x_uint8
    with _one_cpu_thread(x_uint8.device):
        if generator is None:
            return torch.stack([transform(image) for image in x_uint8])
        # torchvision draws from the global RNG only: seed a private copy of it from the generator
        # (one caller at a time, so two dashboard sessions do not draw from each other's copy).
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with _rng_lock, torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return torch.stack([transform(image) for image in x_uint8])


_rng_lock = threading.Lock()
_threads_lock = threading.Lock()
_threads_state = {"users": 0, "saved": 0}


@contextmanager
def _one_cpu_thread(device: torch.device):
    """torch's intra-op threads set to 1 while images are augmented one by one on the CPU.

    Each op on one small image is too short to share: on a busy 2-core machine every op
    waited for the second thread, and a 64-px batch of 32 took 250-500 ms with 2 threads
    against 17-54 ms with 1 (BENCHMARKS.md "Augmentation speed"). The count is process-wide,
    so concurrent callers (the dashboard's sessions) share one save and restore."""
    if device.type != "cpu":
        yield
        return
    with _threads_lock:
        if _threads_state["users"] == 0:
            _threads_state["saved"] = torch.get_num_threads()
            torch.set_num_threads(1)
        _threads_state["users"] += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_state["users"] -= 1
            if _threads_state["users"] == 0:
                torch.set_num_threads(_threads_state["saved"])


def preview_images(image_set, count: int = 4, seed: int = 0) -> list[np.ndarray]:
    """``count`` images of an ImageSet for the preview: one from each of as many classes as
    possible (seeded), so the grid shows the variety of the data, not one class."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(image_set.labels)
    classes = rng.permutation(np.unique(labels))
    picks = [int(rng.choice(np.flatnonzero(labels == c))) for c in classes[:count]]
    rest = np.setdiff1d(np.arange(len(labels)), picks)
    picks += rng.permutation(rest)[:count - len(picks)].tolist()  # fewer classes than rows
    return [image_set.images[i] for i in picks]


def preview_grid(images: Sequence[np.ndarray], preset: str, n: int = 8, seed: int = 0, size: int = 96,
                 gap: int = 2) -> np.ndarray:
    """One uint8 (H, W, 3) picture: a row per image, the image as loaded and then ``n``
    augmented views of it, each ``size`` px square, ``gap`` px of white between tiles.
    Seeded with its own generator, so the page's reruns show the same views."""
    check_preset(preset)
    if not len(images):
        raise ValueError("preview_grid needs at least one image")
    x = torch.stack([_square(im, size) for im in images])  # (R, 3, size, size) uint8
    generator = torch.Generator().manual_seed(seed)
    views = [x] + [augment_batch(x, preset, generator) for _ in range(n)]  # n+1 tensors of R images
    rows, cols = len(images), n + 1
    grid = np.full((rows * size + (rows - 1) * gap, cols * size + (cols - 1) * gap, 3), 255, np.uint8)
    for c, view in enumerate(views):
        for r, tile in enumerate(view.permute(0, 2, 3, 1).numpy()):
            grid[r * (size + gap):r * (size + gap) + size, c * (size + gap):c * (size + gap) + size] = tile
    return grid


def _square(image: np.ndarray, size: int) -> torch.Tensor:
    """The whole image resized to size x size, as ResizedImages does for training."""
    img = Image.fromarray(image).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
