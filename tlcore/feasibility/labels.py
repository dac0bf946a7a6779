"""Suspect labels: images whose given label the rest of the data set disagrees with.

Out-of-fold predicted probabilities (k-fold, the linear-probe head on cached backbone
features, so no image is scored by a head that saw its own label) go to cleanlab's confident
learning (``cleanlab.filter.find_label_issues``), which estimates per-class noise rates from
them and flags the images most likely mislabelled, ranked by self-confidence (the predicted
probability of the given label: lowest first).

The user then drops or relabels images: a ``tlcore.data.label_edits.LabelEdits`` record
keyed by image id, applied when a run loads its data. Image files are never changed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from ..data.thumbnails import thumbnails
from ..features import ProbeHead


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
    positions = np.array([s.index for s in suspects], dtype=np.int64)
    if index is not None:
        positions = np.asarray(index, dtype=np.int64)[positions]
    return thumbnails(image_set, positions, px)
