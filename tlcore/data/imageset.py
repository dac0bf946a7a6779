"""An in-memory labelled image set: what every data source (upload, folder, built-in
domain) turns into, and what the training code consumes."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..atomic import write_json

SPLITS = ("train", "val", "test")


@dataclass
class ImageSet:
    """Decoded RGB images with integer labels.

    ``images[i]`` is an (H, W, 3) uint8 array (sizes may differ), ``labels[i]`` an index
    into ``class_names``, ``ids[i]`` a stable name for the image (its path inside the
    upload, or ``domain/index`` for built-in data) and ``splits[i]`` one of
    train/val/test once a split has been made or read from the data's own folders.
    """

    name: str
    images: list[np.ndarray]
    labels: np.ndarray
    class_names: tuple[str, ...]
    ids: list[str]
    splits: np.ndarray | None = None
    report: object | None = field(default=None, repr=False)  # IngestReport, if ingested

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        n = len(self.images)
        if len(self.labels) != n or len(self.ids) != n:
            raise ValueError("images, labels and ids must have the same length")
        if self.splits is not None:
            self.splits = np.asarray(self.splits, dtype=object)
            bad = set(self.splits.tolist()) - set(SPLITS)
            if len(self.splits) != n or bad:
                raise ValueError(f"splits must be one of {SPLITS} per image")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=self.num_classes)
        return {c: int(k) for c, k in zip(self.class_names, counts)}

    def subset(self, index) -> ImageSet:
        index = np.asarray(index, dtype=np.int64)
        return replace(
            self,
            images=[self.images[i] for i in index],
            labels=self.labels[index],
            ids=[self.ids[i] for i in index],
            splits=None if self.splits is None else self.splits[index],
            report=None,
        )

    def restrict_classes(self, names) -> ImageSet:
        """The images of the classes ``names`` only, relabelled in that order."""
        names = tuple(names)
        old = {name: i for i, name in enumerate(self.class_names)}
        keep = np.flatnonzero(np.isin(self.labels, [old[n] for n in names]))
        remap = np.full(len(self.class_names), -1, dtype=np.int64)
        remap[[old[n] for n in names]] = np.arange(len(names))
        return replace(self.subset(keep), labels=remap[self.labels[keep]], class_names=names)

    def split(self, which: str) -> ImageSet:
        if self.splits is None:
            raise ValueError("this image set has no split yet; call with_split() first")
        return self.subset(np.flatnonzero(self.splits == which))

    # The split is saved with a run so the same images are held out when it is resumed
    # or replayed; it is keyed by image id, not position, so reordering cannot corrupt it.
    def split_record(self) -> dict[str, str]:
        """image id -> train | val | test."""
        if self.splits is None:
            raise ValueError("no split to save")
        return dict(zip(self.ids, self.splits.tolist()))

    def save_split(self, path: str | Path) -> None:
        write_json(path, self.split_record())

    def load_split(self, path: str | Path) -> ImageSet:
        saved = json.loads(Path(path).read_text())
        missing = [i for i in self.ids if i not in saved]
        if missing:
            raise ValueError(f"saved split does not cover {len(missing)} images, e.g. {missing[0]!r}")
        return replace(self, splits=np.array([saved[i] for i in self.ids], dtype=object))
