"""Figures about data and models: class counts, thumbnails, the freeze map."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from .style import LAYOUT as _LAYOUT


def class_counts_figure(report) -> go.Figure:
    """Images per class, stacked by split when the set has one."""
    classes = list(report.class_counts)
    fig = go.Figure()
    if report.split_counts:
        for split, colour in (("train", "#4C78A8"), ("val", "#F58518"), ("test", "#54A24B")):
            counts = report.split_counts.get(split, {})
            fig.add_bar(name=split, x=classes, y=[counts.get(c, 0) for c in classes], marker_color=colour)
        fig.update_layout(barmode="stack")
    else:
        fig.add_bar(x=classes, y=[report.class_counts[c] for c in classes])
    fig.update_layout(height=300, title="Images per class", yaxis_title="images", **_LAYOUT)
    fig.update_xaxes(type="category")  # class names like "0".."9" are labels, not numbers
    return fig


def class_thumbnails(image_set, per_class: int = 8, size: int = 48, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """(class name, one row of ``per_class`` thumbnails) for each class, seeded sample."""
    rng = np.random.default_rng(seed)
    rows = []
    for label, name in enumerate(image_set.class_names):
        idx = np.flatnonzero(image_set.labels == label)
        idx = idx[rng.permutation(len(idx))[:per_class]]
        tiles = [_tile(image_set.images[i], size) for i in idx]
        tiles += [np.full((size, size, 3), 255, np.uint8)] * (per_class - len(tiles))
        rows.append((name, np.concatenate(tiles, axis=1)))
    return rows


def _tile(image: np.ndarray, size: int) -> np.ndarray:
    """Fit an image into a white size x size square, keeping its aspect ratio."""
    img = Image.fromarray(image)
    img.thumbnail((size, size), Image.Resampling.NEAREST if max(img.size) < size else Image.Resampling.LANCZOS)
    if max(img.size) < size:  # tiny images (8x8 digits): enlarge with visible pixels
        scale = size // max(img.size)
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    canvas = Image.new("RGB", (size, size), "white")
    canvas.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    return np.asarray(canvas)


def freeze_map_figure(rows) -> go.Figure:
    """Parameters per stage, trainable part highlighted (rows: tlcore.freezing.StageRow)."""
    names = [r.stage for r in rows]
    fig = go.Figure()
    fig.add_bar(name="trainable", x=names, y=[r.trainable for r in rows], marker_color="#54A24B")
    fig.add_bar(name="frozen", x=names, y=[r.params - r.trainable for r in rows], marker_color="#BAB0AC")
    fig.update_layout(barmode="stack", height=300, title="Parameters per stage", yaxis_title="parameters",
                      **_LAYOUT)
    fig.update_xaxes(type="category")
    return fig
