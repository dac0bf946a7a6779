"""The in-memory image pipeline: images resized once, batches normalised (and augmented) on
the training device, and the loaders that feed the loop."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from ..config import AUGMENTATIONS
from .imageset import ImageSet

PRECOMPUTE_LIMIT_BYTES = 1 << 30  # resize every image once up front below this size


class ResizedImages(Dataset):
    """(uint8 image C x S x S, label, index) for a subset of an ImageSet.

    Images are resized once up front when they fit in memory (a 5,000-image set at
    64 px is 60 MB), otherwise on access. Normalisation and augmentation happen on the
    batch, on the training device (see ``BatchPreprocess``).
    """

    def __init__(self, image_set: ImageSet, size: int, index: np.ndarray, labels: np.ndarray | None = None):
        self.image_set, self.size, self.index = image_set, size, np.asarray(index, dtype=np.int64)
        self.labels = image_set.labels[self.index] if labels is None else np.asarray(labels, dtype=np.int64)
        self._cache = None
        if len(self.index) * 3 * size * size <= PRECOMPUTE_LIMIT_BYTES:
            self._cache = torch.stack([self._load(i) for i in range(len(self.index))]) if len(self.index) else None

    def _load(self, i: int) -> torch.Tensor:
        img = Image.fromarray(self.image_set.images[self.index[i]])
        if img.size != (self.size, self.size):
            img = img.resize((self.size, self.size), Image.Resampling.BILINEAR)
        return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        x = self._cache[i] if self._cache is not None else self._load(i)
        return x, int(self.labels[i]), i


class BatchPreprocess(torch.nn.Module):
    """uint8 batch -> normalised float batch, with optional light augmentation."""

    def __init__(self, mean, std, augment: str = "none"):
        super().__init__()
        if augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {augment!r}; valid: {', '.join(AUGMENTATIONS)}")
        self.augment = augment
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor, train: bool = False) -> torch.Tensor:
        x = x.float().div_(255.0)
        if train and self.augment != "none":
            x = self._augment(x)
        return (x - self.mean) / self.std

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        pad = max(1, h // 8)
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="replicate")
        dy, dx = torch.randint(0, 2 * pad + 1, (2,)).tolist()  # one shift per batch: cheap
        x = padded[:, :, dy:dy + h, dx:dx + w]
        scale = 1 + 0.2 * (torch.rand(n, 1, 1, 1, device=x.device) - 0.5)
        x = (x * scale).clamp_(0, 1)
        if self.augment == "flip":
            flip = torch.rand(n, device=x.device) < 0.5
            x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
        return x


def stacked_batches(dataset: Dataset, batch_size: int, index=None):
    """(x, y) tensors of consecutive items of ``dataset`` (or of ``index``), in order:
    for evaluation and feature extraction, where nothing is shuffled or dropped."""
    index = range(len(dataset)) if index is None else index
    for start in range(0, len(index), batch_size):
        items = [dataset[i] for i in index[start:start + batch_size]]
        yield torch.stack([it[0] for it in items]), torch.as_tensor([int(it[1]) for it in items])


def make_loader(dataset: Dataset, batch_size: int, train: bool, seed: int) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    # Dropping a ragged last batch keeps BatchNorm away from batches of one image.
    drop_last = train and len(dataset) > batch_size
    return DataLoader(dataset, batch_size=batch_size, shuffle=train, drop_last=drop_last, generator=generator)


class TensorBatches:
    """Shuffled mini-batches straight from in-memory tensors (the feature cache's loader).

    A DataLoader over a TensorDataset indexes and collates item by item; with cached
    features that bookkeeping costs more than the head's training step itself.
    """

    def __init__(self, tensors: tuple[torch.Tensor, ...], batch_size: int, seed: int, device):
        self.tensors = tuple(t.to(device) for t in tensors)
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        n = len(self.tensors[0])
        self.drop_last = n > batch_size  # as make_loader: no batch of one for BatchNorm
        self.sampler = None

    def __len__(self) -> int:
        n = len(self.tensors[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.tensors[0]), generator=self.generator).to(self.tensors[0].device)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield tuple(t[idx] for t in self.tensors)
