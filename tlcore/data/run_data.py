"""From RunConfig.data to the image sets of a run: target and source loaded, label edits
applied, the source's classes mapped onto the target's, the labelled target images drawn."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import load_domain, load_image_set
from .domains import is_domain
from .imageset import ImageSet
from .errors import IngestError
from .ingest import IngestOptions, check_domain_pair
from .label_edits import LabelEdits, edited_image_set


@dataclass
class RunData:
    target: ImageSet
    source: ImageSet | None
    class_names: tuple[str, ...]
    source_labels: np.ndarray | None  # source labels mapped onto the target's class indices
    target_labelled: np.ndarray  # indices of target training images whose labels are used
    warnings: list[str]

    def target_index(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.target.splits == split)

    def source_index(self, split: str) -> np.ndarray:
        keep = self.source_labels >= 0
        return np.flatnonzero((self.source.splits == split) & keep)


def _load(spec: str, domain: str | None, cfg, seed: int) -> ImageSet:
    if is_domain(spec):
        return load_domain(spec, per_class=-1 if cfg.per_class is None else cfg.per_class, seed=seed,
                           val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction)
    options = IngestOptions(seed=seed, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction)
    image_set = load_image_set(spec, domain=domain, options=options)
    if cfg.per_class is not None:
        rng = np.random.default_rng(seed)
        keep = np.concatenate([rng.permutation(np.flatnonzero(image_set.labels == c))[:cfg.per_class]
                               for c in range(image_set.num_classes)])
        image_set = image_set.subset(np.sort(keep))
    return image_set


def check_adaptable(source: ImageSet, target: ImageSet, target_labels: int | None) -> list[str]:
    """A source set a run can learn from, and unlabelled target images to adapt to: else a
    clear IngestError (the run never starts). Returns warnings."""
    shared = set(source.class_names) & set(target.class_names)
    present = {source.class_names[y] for y in np.unique(source.labels)} & shared
    if len(present) < 2:
        raise IngestError(f"the source set has images of {len(present)} class(es) the target shares "
                          f"({', '.join(sorted(present)) or 'none'}): a classifier trained on it can say only "
                          "that; the source needs at least two of the target's classes")
    missing = [n for n in target.class_names if n not in shared]
    if missing and target_labels == 0:
        raise IngestError(f"target class(es) {', '.join(map(repr, missing[:6]))} are not in the source: without "
                          "target labels they cannot be learnt. Use only the classes both sets have "
                          f"({', '.join(sorted(shared)[:8])}; the Data page's switch, or --shared-classes), or "
                          "give some target labels")
    train = target.splits == "train"
    if not np.any(train):
        raise IngestError(f"the target has no training images left after the val/test split "
                          f"({len(target.labels)} images): adaptation needs unlabelled target images; add images")
    counts = np.bincount(target.labels[train], minlength=len(target.class_names))
    if target_labels and target_labels >= counts.max():
        return [f"every target training image is labelled ({target_labels} labels a class asked for, at most "
                f"{counts.max()} training images a class): no unlabelled target image is left, so the adaptation "
                "term sees the labelled ones again; ask for fewer labels, or add unlabelled images"]
    return []


def prepare_data(config, uses_target_labels_by_default: bool = True) -> RunData:
    cfg = config.data
    target = _load(cfg.target, cfg.target_domain, cfg, config.seed)
    if cfg.label_edits:
        target = edited_image_set(target, LabelEdits.from_dict(cfg.label_edits))
    source, source_labels, warnings = None, None, []
    if cfg.source:
        source = _load(cfg.source, cfg.source_domain, cfg, config.seed + 1)
        warnings += check_domain_pair(source, target)
        if cfg.shared_classes_only:
            shared = [n for n in target.class_names if n in set(source.class_names)]
            target, source = target.restrict_classes(shared), source.restrict_classes(shared)
        k = cfg.target_labels_per_class
        warnings += check_adaptable(source, target, 0 if k is None and not uses_target_labels_by_default else k)
        index = {name: i for i, name in enumerate(target.class_names)}
        source_labels = np.array([index.get(source.class_names[y], -1) for y in source.labels], dtype=np.int64)
    train = np.flatnonzero(target.splits == "train")
    k = cfg.target_labels_per_class
    if k is None and not uses_target_labels_by_default:
        k = 0  # adaptation methods are unsupervised unless target labels are asked for
    if k is None:
        labelled = train
    else:
        rng = np.random.default_rng(config.seed + 2)
        labelled = np.sort(np.concatenate([
            rng.permutation(train[target.labels[train] == c])[:k] for c in range(target.num_classes)]))
    return RunData(target, source, target.class_names, source_labels, labelled, warnings)
