"""What ingestion found: counts, skipped files with reasons, warnings."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np

IMBALANCE_RATIO = 3.0  # largest / smallest class above this is worth a warning
FEW_PER_CLASS = 10


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass
class IngestReport:
    source: str
    layout: str = ""
    num_images: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    split_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    image_sizes: dict[str, list[int]] = field(default_factory=dict)  # min/median/max [w, h]
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def usable(self) -> bool:
        return self.error is None

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append(SkippedFile(path, reason))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["usable"] = self.usable
        return d

    def format_text(self, max_skipped: int = 50) -> str:
        lines = [f"Source: {self.source}", f"Layout: {self.layout or '-'}", f"Images: {self.num_images}"]
        if self.class_counts:
            width = max(len(c) for c in self.class_counts)
            lines.append(f"Classes: {len(self.class_counts)}")
            for cls, n in self.class_counts.items():
                per_split = "  ".join(f"{s}={c.get(cls, 0)}" for s, c in self.split_counts.items())
                lines.append(f"  {cls:<{width}}  {n:>6}  {per_split}")
        if self.image_sizes:
            s = self.image_sizes
            lines.append(f"Image size (w x h): min {s['min'][0]}x{s['min'][1]}, "
                         f"median {s['median'][0]}x{s['median'][1]}, max {s['max'][0]}x{s['max'][1]}")
        if self.skipped:
            lines.append(f"Skipped files: {len(self.skipped)}")
            for sk in self.skipped[:max_skipped]:
                lines.append(f"  {sk.path!r}: {sk.reason}")
            if len(self.skipped) > max_skipped:
                lines.append(f"  ... and {len(self.skipped) - max_skipped} more")
        for w in self.warnings:
            lines.append(f"Warning: {w}")
        lines.append(f"Error: {self.error}" if self.error else "Usable: yes")
        return "\n".join(lines)


def summarise(report: IngestReport, image_set, digests: list[str] | None = None,
              original_sizes: list[tuple[int, int]] | None = None) -> None:
    """Fill counts, size statistics and warnings of ``report`` from a built image set."""
    report.num_images = len(image_set)
    report.class_counts = image_set.class_counts()
    if image_set.splits is not None:
        for split in ("train", "val", "test"):
            sub = image_set.labels[image_set.splits == split]
            counts = np.bincount(sub, minlength=image_set.num_classes)
            report.split_counts[split] = {c: int(k) for c, k in zip(image_set.class_names, counts)}
    sizes = np.array(original_sizes or [(im.shape[1], im.shape[0]) for im in image_set.images])
    if len(sizes):
        report.image_sizes = {
            "min": sizes.min(0).tolist(), "median": np.median(sizes, 0).astype(int).tolist(),
            "max": sizes.max(0).tolist(),
        }
        tiny = int((sizes.min(1) < 16).sum())
        if tiny:
            report.warnings.append(f"{tiny} images are smaller than 16 px on a side; "
                                   "they will be upscaled a lot for a pretrained backbone")
    _warn_counts(report)
    if digests is not None:
        _warn_duplicates(report, image_set, digests)


def is_imbalanced(counts) -> bool:
    """Whether the largest class has more than IMBALANCE_RATIO times the images of the
    smallest, empty classes left out: the rule of the ingest warning, and the one that turns
    the balanced sampler on (DataConfig.balance "auto", tlcore.data.pipeline)."""
    present = [int(n) for n in counts if n > 0]
    return len(present) >= 2 and max(present) > IMBALANCE_RATIO * min(present)


def _warn_counts(report: IngestReport) -> None:
    counts = {c: n for c, n in report.class_counts.items() if n > 0}
    if is_imbalanced(counts.values()):
        big, small = max(counts, key=counts.get), min(counts, key=counts.get)
        report.warnings.append(
            f"class imbalance: {big!r} has {counts[big]} images, {small!r} only {counts[small]}; "
            "accuracy will favour the large classes, so watch per-class recall and macro F1")
    few = [c for c, n in counts.items() if n < FEW_PER_CLASS]
    if few:
        report.warnings.append(f"{len(few)} classes have fewer than {FEW_PER_CLASS} images "
                               f"({', '.join(map(repr, few[:5]))}); results will be noisy")


def _warn_duplicates(report: IngestReport, image_set, digests: list[str]) -> None:
    by_digest: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(digests):
        by_digest[d].append(i)
    across_classes, across_splits, within = [], [], 0
    for group in by_digest.values():
        if len(group) < 2:
            continue
        labels = {int(image_set.labels[i]) for i in group}
        if len(labels) > 1:
            across_classes.append(group)
        else:
            within += len(group) - 1
        if image_set.splits is not None:
            if {"train", "test"} <= {image_set.splits[i] for i in group} or \
               {"train", "val"} <= {image_set.splits[i] for i in group}:
                across_splits.append(group)
    if across_classes:
        ex = across_classes[0]
        report.warnings.append(
            f"{len(across_classes)} images appear in more than one class (identical pixels), e.g. "
            + " and ".join(repr(image_set.ids[i]) for i in ex[:2]) + "; their labels contradict each other")
    if within:
        report.warnings.append(f"{within} duplicate images inside the same class")
    if across_splits:
        ex = across_splits[0]
        report.warnings.append(
            f"{len(across_splits)} identical images are both in training and in evaluation splits, e.g. "
            + " and ".join(repr(image_set.ids[i]) for i in ex[:2]) + "; test scores will be optimistic")
