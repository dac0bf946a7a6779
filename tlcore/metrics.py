"""Classification metrics through scikit-learn: accuracy, macro recall and F1, per-class
precision/recall/F1 and the confusion matrix."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


def classification_metrics(y_true, y_pred, class_names) -> dict:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = list(range(len(class_names)))
    # Macro averages over the classes present in this split, so a class absent from a
    # small test split does not count as a zero.
    present = sorted(set(y_true.tolist()))
    _, macro_recall, macro_f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=present, average="macro", zero_division=0)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_recall": float(macro_recall),
        "macro_f1": float(macro_f1),
        "n": int(len(y_true)),
        "per_class": {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for name, p, r, f, s in zip(class_names, precision, recall, f1, support)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


SCALARS = ("accuracy", "macro_recall", "macro_f1")
