"""Suspect labels: images whose given label the rest of the data set disagrees with.

Out-of-fold predicted probabilities (k-fold, the linear-probe head on cached backbone
features, so no image is scored by a head that saw its own label) go to cleanlab's confident
learning (``cleanlab.filter.find_label_issues``), which estimates per-class noise rates from
them and flags the images most likely mislabelled, ranked by self-confidence (the predicted
probability of the given label: lowest first).

The user then drops or relabels images. That decision is a ``LabelEdits`` record keyed by
image id (JSON, saved with a run or a session); ``apply_label_edits`` turns it into a new
labels array and a kept index. Image files and the ImageSet itself are never changed.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from ..train.features import ProbeHead


def out_of_fold_probabilities(features: np.ndarray, labels: np.ndarray, num_classes: int | None = None,
                              k: int = 5, seed: int = 0) -> np.ndarray:
    """(N, C) probabilities, each row from a head trained on the other folds. ``k`` drops to
    the smallest class size (at least 2) so every fold's training part sees every class."""
    labels = np.asarray(labels, dtype=np.int64)
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    smallest = np.bincount(labels)[np.unique(labels)].min()
    k = int(min(k, smallest))
    if k < 2:
        raise ValueError("every class needs at least 2 labelled images for out-of-fold predictions")
    probs = np.zeros((len(labels), num_classes), np.float64)
    folds = StratifiedKFold(k, shuffle=True, random_state=seed).split(features, labels)
    # One BLAS thread: two threads next to another busy process made each fit 30x slower here.
    with threadpool_limits(1):
        for fold_train, fold_test in folds:
            head = ProbeHead(features[fold_train], labels[fold_train], seed)
            probs[np.ix_(fold_test, head.classes)] = head.predict_proba(features[fold_test])
    return probs


CONFIDENT = 0.9


@dataclass(frozen=True)
class SuspectLabel:
    index: int  # position in the labels that were checked
    item_id: str
    given: int
    suggested: int  # the class the out-of-fold head believes most
    self_confidence: float  # out-of-fold probability of the given label
    given_name: str = ""
    suggested_name: str = ""
    suggested_confidence: float = 0.0  # out-of-fold probability of the suggested class

    @property
    def confident(self) -> bool:
        """The head gives another class at least CONFIDENT: where flags are most often real
        errors (benchmarks/feasibility_checks.py: about 1.5x the precision of all flags)."""
        return self.suggested_confidence >= CONFIDENT


def find_suspect_labels(features: np.ndarray, labels: np.ndarray, ids, class_names, k: int = 5, seed: int = 0,
                        pred_probs: np.ndarray | None = None) -> list[SuspectLabel]:
    """Images whose label looks wrong, most suspect first (cleanlab confident learning on
    out-of-fold probabilities; pass ``pred_probs`` to reuse ones already computed)."""
    from cleanlab.filter import find_label_issues
    labels = np.asarray(labels, dtype=np.int64)
    if pred_probs is None:
        pred_probs = out_of_fold_probabilities(features, labels, len(class_names), k, seed)
    # n_jobs=1: cleanlab's default multiprocessing would fork inside the app's worker.
    ranked = find_label_issues(labels, pred_probs, return_indices_ranked_by="self_confidence", n_jobs=1)
    out = []
    for i in ranked:
        given, suggested = int(labels[i]), int(np.argmax(pred_probs[i]))
        out.append(SuspectLabel(int(i), str(ids[i]), given, suggested, float(pred_probs[i, given]),
                                str(class_names[given]), str(class_names[suggested]),
                                float(pred_probs[i, suggested])))
    return out


def suspect_thumbnails(image_set, suspects, index=None, px: int = 48) -> np.ndarray:
    """(len(suspects), px, px, 3) thumbnails; ``index`` maps a suspect's position back into
    ``image_set`` when the labels checked were a subset of it."""
    from ..embed.probe import thumbnails
    positions = np.array([s.index for s in suspects], dtype=np.int64)
    if index is not None:
        positions = np.asarray(index, dtype=np.int64)[positions]
    return thumbnails(image_set, positions, px)


@dataclass
class LabelEdits:
    """What the user decided about suspect images, by image id: dropped, or relabelled to a
    class name (names, not indices, so a record survives a change in class order)."""
    drops: list[str] = field(default_factory=list)
    relabels: dict[str, str] = field(default_factory=dict)

    def drop(self, item_id: str) -> None:
        self.relabels.pop(item_id, None)
        if item_id not in self.drops:
            self.drops.append(item_id)

    def relabel(self, item_id: str, class_name: str) -> None:
        if item_id in self.drops:
            self.drops.remove(item_id)
        self.relabels[item_id] = class_name

    def undo(self, item_id: str) -> None:
        self.relabels.pop(item_id, None)
        if item_id in self.drops:
            self.drops.remove(item_id)

    def __len__(self) -> int:
        return len(self.drops) + len(self.relabels)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, text: str) -> "LabelEdits":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, raw: dict) -> "LabelEdits":
        if not isinstance(raw, dict):
            raise ValueError("label edits must be an object with 'drops' and 'relabels'")
        return cls(drops=[str(i) for i in raw.get("drops", [])],
                   relabels={str(k): str(v) for k, v in raw.get("relabels", {}).items()})


def apply_label_edits(image_set, edits: LabelEdits) -> tuple[np.ndarray, np.ndarray]:
    """(kept positions, labels with the relabels applied: a new array, full length) of
    ``image_set``. Ids the set does not hold are skipped (a record may be for a larger set
    than the per-class sample loaded now); an unknown class name is an error."""
    names = {name: i for i, name in enumerate(image_set.class_names)}
    unknown = sorted(set(edits.relabels.values()) - set(names))
    if unknown:
        raise ValueError(f"unknown class {unknown[0]!r}; valid: {', '.join(image_set.class_names)}")
    position = {item_id: i for i, item_id in enumerate(image_set.ids)}
    labels = np.array(image_set.labels, dtype=np.int64, copy=True)
    for item_id, name in edits.relabels.items():
        if item_id in position:
            labels[position[item_id]] = names[name]
    dropped = {position[i] for i in edits.drops if i in position}
    keep = np.array([i for i in range(len(labels)) if i not in dropped], dtype=np.int64)
    return keep, labels


def edited_image_set(image_set, edits: LabelEdits):
    """A new ImageSet with the edits applied: dropped images left out, relabelled ones under
    their new class. The pixel arrays are shared, not copied; the original set is unchanged."""
    keep, labels = apply_label_edits(image_set, edits)
    return replace(image_set.subset(keep), labels=labels[keep])
