"""The bundle's plain files: metrics as CSV and the confusion matrix as a PNG.

The PNG is drawn with matplotlib: plotly's static export needs kaleido and a
Chrome of its own, neither of which this project installs."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..run_folder import RunFolder

CSV_COLUMNS = ("kind", "epoch", "step", "name", "value")


def metrics_csv(folder: str | Path) -> str:
    """The run's metrics file (every step's losses, every epoch's metrics) in long form:
    one row per number, so steps and epochs share one table without empty cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in RunFolder(folder).metric_lines():
        for name, value in row.items():
            if name not in ("kind", "epoch", "step") and isinstance(value, (int, float)):
                writer.writerow((row.get("kind"), row.get("epoch"), row.get("step", ""), name, value))
    return out.getvalue()


def confusion_png(matrix, class_names: list[str], title: str) -> bytes:
    """Rows true class, columns predicted, counts in the cells (as the Evaluate page draws it)."""
    # A Figure of its own, not pyplot: no global backend or figure state, safe in a server thread.
    from matplotlib.figure import Figure
    cm = np.asarray(matrix, dtype=int)
    n = len(class_names)
    side = min(12.0, 2.5 + 0.45 * n)
    fig = Figure(figsize=(side, side), dpi=120)
    ax = fig.add_subplot()
    ax.imshow(cm, cmap="Blues")
    names = [str(c) for c in class_names]
    ax.set_xticks(range(n), names, rotation=45 if n > 6 else 0, ha="right" if n > 6 else "center")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    top = cm.max() if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if top and cm[i, j] > top / 2 else "black")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
