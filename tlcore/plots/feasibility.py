"""Feasibility figures: the learning curve, measured and extrapolated."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .style import LAYOUT, TEST, TRAIN, VAL


def learning_curve_figure(curve) -> go.Figure:
    """Test accuracy against labelled images per class (log axis): each seed's measured
    point, their mean, the power-law fit with its band from the fewest labels to the largest
    prediction, and the predictions at 2x / 5x the current labels with their ranges.
    ``curve`` is a tlcore.feasibility.curve.LearningCurve."""
    fig = go.Figure()
    pts = curve.points
    x = np.array([p["per_class"] for p in pts])
    y = np.array([p["accuracy"] for p in pts])
    fig.add_scatter(x=x, y=y, mode="markers", name="measured (each seed)",
                    marker=dict(color=TRAIN, size=7, opacity=0.5),
                    customdata=[[p["seed"], p["n"]] for p in pts],
                    hovertemplate="%{x:.0f} a class (%{customdata[1]} labels, seed %{customdata[0]}): "
                                  "%{y:.1%}<extra></extra>")
    sizes = np.unique(x)
    fig.add_scatter(x=sizes, y=[y[x == s].mean() for s in sizes], mode="lines+markers", name="measured (mean)",
                    line=dict(color=TRAIN), marker=dict(size=9))
    if curve.fit is not None:
        top = max([p["per_class"] for p in curve.predictions] + [sizes.max()])
        grid = np.geomspace(max(sizes.min(), 1.0), top, 60)
        low, high = curve.fit.band(grid, level=curve.level)
        fig.add_scatter(x=np.concatenate([grid, grid[::-1]]), y=np.concatenate([high, low[::-1]]), fill="toself",
                        fillcolor="rgba(245,133,24,0.18)", line=dict(width=0), hoverinfo="skip",
                        name=f"{curve.level:.0%} band")
        fit = curve.fit
        fig.add_scatter(x=grid, y=fit.predict(grid), mode="lines", line=dict(color=VAL, dash="dash"),
                        name=f"fit {fit.a:.2f} - {fit.b:.2f}·n^-{fit.c:.2f}",
                        hovertemplate="%{x:.0f} a class: %{y:.1%}<extra>fit</extra>")
    if curve.predictions:
        pr = curve.predictions
        fig.add_scatter(x=[p["per_class"] for p in pr], y=[p["accuracy"] for p in pr], mode="markers+text",
                        name="predicted", marker=dict(color=TEST, size=12, symbol="diamond"),
                        text=[f"{p['factor']:g}x" for p in pr], textposition="top center",
                        error_y=dict(type="data", symmetric=False, color=TEST,
                                     array=[max(0.0, p["high"] - p["accuracy"]) for p in pr],
                                     arrayminus=[max(0.0, p["accuracy"] - p["low"]) for p in pr]),
                        hovertemplate="%{x:.0f} a class: %{y:.1%}<extra>predicted</extra>")
    # A trace, not add_vline: on a log axis a shape's x is read as log10(x), which put the
    # line (and the axis range) at 10^70 labels.
    fig.add_scatter(x=[curve.per_class] * 2, y=[0, 1], mode="lines", line=dict(color="#BAB0AC", dash="dot"),
                    name=f"labels now ({curve.per_class:.0f} a class)", hoverinfo="skip")
    fig.update_layout(height=380, title="Learning curve: test accuracy vs labels per class",
                      xaxis=dict(type="log", title="labelled images per class"),
                      yaxis=dict(tickformat=".0%", title="test accuracy", rangemode="tozero"), **LAYOUT)
    return fig
