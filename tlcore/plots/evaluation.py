"""Evaluation figures: before vs after transfer, per-class scores, the confusion matrix,
and several runs compared."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from .style import LAYOUT, TEST
from .training import add_band, seed_band, series

SCORES = (("accuracy", "accuracy"), ("macro_recall", "macro recall"), ("macro_f1", "macro F1"))


def before_after_figure(summary: dict) -> go.Figure:
    """Target test scores of the untrained network's features (before) and of the trained
    model (after), side by side."""
    fig = go.Figure()
    labels = [label for _, label in SCORES]
    for prefix, name, colour in (("before.target.test.", "before transfer", "#BAB0AC"),
                                 ("target.test.", "after transfer", TEST)):
        values = [summary.get(prefix + key) for key, _ in SCORES]
        if all(v is None for v in values):
            continue
        fig.add_bar(name=name, x=labels, y=values, marker_color=colour,
                    text=[f"{v:.1%}" if v is not None else "" for v in values], textposition="outside")
    fig.update_layout(barmode="group", height=320, title="Target test: before vs after transfer",
                      yaxis=dict(tickformat=".0%", range=[0, 1.12]), **LAYOUT)
    return fig


def per_class_rows(summary: dict) -> list[dict]:
    return [{"class": name, "precision": m["precision"], "recall": m["recall"], "F1": m["f1"],
             "test images": m["support"]} for name, m in (summary.get("target.test.per_class") or {}).items()]


def confusion_figure(matrix, class_names, normalise: bool = False, chosen: tuple[int, int] | None = None) -> go.Figure:
    """Rows: true class; columns: predicted. ``normalise`` divides each row by its total, so
    a cell reads as "share of this class predicted as that". ``chosen`` (true, predicted):
    the cell outlined. Each cell has an invisible marker on top, with the cell's (true,
    predicted) as its customdata: Streamlit's ``on_select`` reports a click on a scatter
    point but not on a heatmap cell (streamlit#8760, #15042)."""
    cm = np.asarray(matrix, dtype=float)
    if normalise:
        cm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    names = [str(c) for c in class_names]
    text = [[f"{v:.0%}" if normalise else f"{int(v):,}" for v in row] for row in cm]
    fig = go.Figure(go.Heatmap(z=cm, x=names, y=names, text=text, texttemplate="%{text}", colorscale="Blues",
                               hoverinfo="skip", showscale=False))
    cells = [(t, p) for t in range(len(names)) for p in range(len(names))]
    fig.add_scatter(x=[names[p] for _, p in cells], y=[names[t] for t, _ in cells], mode="markers",
                    customdata=[[t, p, text[t][p]] for t, p in cells], showlegend=False,
                    marker=dict(size=24, symbol="square", opacity=0),
                    # Streamlit dims the points it did not select; these stay invisible either way.
                    selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0)),
                    hovertemplate="true %{y}, predicted %{x}: %{customdata[2]}<br>click to list these images"
                                  "<extra></extra>")
    if chosen is not None:
        t, p = chosen
        fig.add_shape(type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5, line=dict(color="#E45756", width=3))
    size = min(640, 140 + 36 * len(names))
    fig.update_layout(height=size, title="Confusion matrix" + (" (share of each true class)" if normalise else
                                                                " (counts)"),
                      xaxis_title="predicted", yaxis_title="true", clickmode="event+select",
                      # A click anywhere in a cell picks that cell's marker: the nearest one.
                      hovermode="closest", hoverdistance=-1, **LAYOUT)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def compare_curves_figure(runs: dict[str, list], split: str = "target.val", name: str = "accuracy") -> go.Figure:
    """One metric of several runs, per epoch, overlaid, in the order given. A value is a run's
    metric rows, or a seed group's: a list of its runs' rows, drawn as their mean with a band
    (see ``seed_band``: ±1 std from 3 seeds, min-max with 2)."""
    fig = go.Figure()
    percent = name in ("accuracy", "macro_f1", "macro_recall")
    colours = iter(qualitative.Plotly * 4)
    has_group = False
    for label, rows in runs.items():
        colour = next(colours)
        if rows and isinstance(rows[0], list):  # a seed group
            has_group = True
            band = seed_band(rows, split, name)
            if band:
                add_band(fig, band, label, colour, percent)
            continue
        epochs, values = series(rows, split, name, x="epoch")
        if len(epochs):
            fig.add_scatter(x=epochs.tolist(), y=values.tolist(), mode="lines+markers", name=label,
                            line=dict(color=colour))
    fig.update_layout(height=340, title=f"{split} {name.replace('_', ' ')} per epoch", xaxis_title="epoch",
                      yaxis=dict(tickformat=".0%") if percent else {}, **LAYOUT)
    if has_group:  # its legend entries are long: below the chart, not beside the title
        fig.update_layout(height=400, legend=dict(orientation="h", x=0, xanchor="left", y=-0.2, yanchor="top"))
    fig.update_xaxes(dtick=1)
    return fig


HURT = "#E45756"


def lessons_figure(rows: list[dict]) -> go.Figure:
    """Target test accuracy before and after transfer, one pair of bars per lesson (rows:
    tlcore.lessons.comparison_rows); an "after" bar that lost against its "before" is red."""
    names = [r["lesson"] for r in rows]
    fig = go.Figure()
    fig.add_bar(name="before transfer", x=names, y=[r["before"] for r in rows], marker_color="#BAB0AC",
                text=[f"{r['before']:.0%}" for r in rows], textposition="outside")
    fig.add_bar(name="after transfer (red: it hurt)", x=names, y=[r["after"] for r in rows],
                marker_color=[HURT if r["verdict"] == "hurt" else TEST for r in rows],
                text=[f"{r['after']:.0%} ({r['change (points)']:+.1f})" for r in rows], textposition="outside")
    fig.update_layout(barmode="group", height=360, title="Target test accuracy, before vs after, each lesson",
                      yaxis=dict(tickformat=".0%", range=[0, 1.12]), **LAYOUT)
    return fig
