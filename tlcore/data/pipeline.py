"""The in-memory image pipeline: images resized once, batches normalised (and augmented) on
the training device, and the loaders that feed the loop."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from .augment import augment_batch, check_preset
from .imageset import ImageSet
from .report import is_imbalanced

PRECOMPUTE_LIMIT_BYTES = 1 << 30  # resize every image once up front below this size
BALANCE_MODES = ("auto", "sampler", "off")  # DataConfig.balance: see balanced_sampling


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
    """uint8 batch -> normalised float batch; training batches are first augmented per sample
    with a preset of tlcore.data.augment (DataConfig.augment)."""

    def __init__(self, mean, std, augment: str = "none"):
        super().__init__()
        check_preset(augment)
        self.augment = augment
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor, train: bool = False, augment: str | None = None) -> torch.Tensor:
        """``augment``: a preset for this call in place of the run's (training batches only)."""
        preset = augment or self.augment
        if train and preset != "none":
            x = augment_batch(x, preset)
        x = x.float().div_(255.0)
        return (x - self.mean) / self.std


def stacked_batches(dataset: Dataset, batch_size: int, index=None):
    """(x, y) tensors of consecutive items of ``dataset`` (or of ``index``), in order:
    for evaluation and feature extraction, where nothing is shuffled or dropped."""
    index = range(len(dataset)) if index is None else index
    for start in range(0, len(index), batch_size):
        items = [dataset[i] for i in index[start:start + batch_size]]
        yield torch.stack([it[0] for it in items]), torch.as_tensor([int(it[1]) for it in items])


def balanced_sampling(labels, balance: str) -> bool:
    """Whether a labelled training set should be drawn class-balanced: always for "sampler",
    never for "off", and for "auto" when its class counts are imbalanced by the rule the
    ingest report warns with (tlcore.data.report.is_imbalanced)."""
    if balance not in BALANCE_MODES:
        raise ValueError(f"unknown balance {balance!r}; valid: {', '.join(BALANCE_MODES)}")
    if balance != "auto":
        return balance == "sampler"
    labels = np.asarray(labels, dtype=np.int64)
    return len(labels) > 0 and is_imbalanced(np.bincount(labels))


def class_balance_weights(labels) -> torch.Tensor:
    """1 / (images of its class) for each item: every class is drawn equally often."""
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long).cpu()
    return 1.0 / torch.bincount(labels).double()[labels]


def make_loader(dataset: Dataset, batch_size: int, train: bool, seed: int, balanced: bool = False) -> DataLoader:
    """A training loader shuffles (or, ``balanced``, draws classes evenly with replacement,
    as many items an epoch as the set has); an evaluation loader keeps the order."""
    generator = torch.Generator().manual_seed(seed)
    # Dropping a ragged last batch keeps BatchNorm away from batches of one image.
    drop_last = train and len(dataset) > batch_size
    if train and balanced:
        # The sampler draws from the loader's generator, so reseeding it (batches.reseed) reseeds the draws.
        sampler = WeightedRandomSampler(class_balance_weights(dataset.labels), len(dataset), replacement=True,
                                        generator=generator)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, generator=generator)
    return DataLoader(dataset, batch_size=batch_size, shuffle=train, drop_last=drop_last, generator=generator)


class TensorBatches:
    """Shuffled mini-batches straight from in-memory tensors (the feature cache's loader).

    A DataLoader over a TensorDataset indexes and collates item by item; with cached
    features that bookkeeping costs more than the head's training step itself.
    """

    def __init__(self, tensors: tuple[torch.Tensor, ...], batch_size: int, seed: int, device,
                 balanced: bool = False):
        """``tensors``: (features, labels, indices); ``balanced``: draw classes evenly, with
        replacement, as make_loader does."""
        self.tensors = tuple(t.to(device) for t in tensors)
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        n = len(self.tensors[0])
        self.drop_last = n > batch_size  # as make_loader: no batch of one for BatchNorm
        self.sampler = None
        self.weights = class_balance_weights(tensors[1]) if balanced else None

    def __len__(self) -> int:
        n = len(self.tensors[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.tensors[0])
        order = (torch.randperm(n, generator=self.generator) if self.weights is None
                 else torch.multinomial(self.weights, n, replacement=True, generator=self.generator))
        order = order.to(self.tensors[0].device)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield tuple(t[idx] for t in self.tensors)
