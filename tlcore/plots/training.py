"""Live training figures, drawn from the run store's metric rows
(dicts with step, epoch, split, name, value)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .style import FROZEN, LAYOUT, SOURCE, TEST, TRAIN, TRAINABLE, VAL

# Step values that describe the adaptation rather than the classification.
ADAPTATION = {"domain_loss": "domain loss", "domain_acc": "discriminator accuracy", "lambda": "GRL lambda",
              "coral_loss": "CORAL loss", "mmd_loss": "MMD loss", "align_weight": "alignment weight",
              "mean_weight": "mean instance weight"}


def series(rows: list[dict], split: str, name: str, x: str = "step") -> tuple[np.ndarray, np.ndarray]:
    """(x, value) of one metric; a step written twice (a resumed run) keeps the later value."""
    points = {r[x]: r["value"] for r in rows if r["split"] == split and r["name"] == name and r["value"] is not None}
    xs = sorted(points)
    return np.array(xs, dtype=int), np.array([points[k] for k in xs], dtype=float)


def _plain(values) -> list:
    # Plain lists, not numpy arrays: plotly would ship arrays base64-encoded, which the
    # browser tests (and anyone reading the figure JSON) cannot count or read.
    return np.asarray(values).tolist()


def smooth(values: np.ndarray, span: int = 20) -> np.ndarray:
    """Exponential moving average, so a noisy per-step loss shows its trend."""
    if len(values) == 0:
        return values
    alpha, out, acc = 2 / (span + 1), np.empty_like(values), values[0]
    for i, v in enumerate(values):
        acc = alpha * v + (1 - alpha) * acc
        out[i] = acc
    return out


def _epoch_end_steps(rows: list[dict]) -> dict[int, int]:
    return {r["epoch"]: r["step"] for r in rows if r["split"] == "epoch" and r["name"] == "seconds"}


def loss_figure(rows: list[dict]) -> go.Figure:
    fig = go.Figure()
    steps, loss = series(rows, "train", "loss")
    if len(steps):
        fig.add_scatter(x=_plain(steps), y=_plain(loss), mode="lines", name="train loss (per step)", line=dict(color=TRAIN, width=1),
                        opacity=0.3)
        fig.add_scatter(x=_plain(steps), y=_plain(smooth(loss)), mode="lines", name="train loss (smoothed)", line=dict(color=TRAIN))
    ends = _epoch_end_steps(rows)
    for split, colour, label in (("target.val", VAL, "target val loss"), ("source.val", SOURCE, "source val loss")):
        epochs, val = series(rows, split, "loss", x="epoch")
        if len(epochs):
            fig.add_scatter(x=[ends.get(e, e) for e in epochs.tolist()], y=_plain(val), mode="lines+markers",
                            name=label, line=dict(color=colour), customdata=_plain(epochs), hovertemplate="epoch %{customdata}: %{y:.3f}")
    fig.update_layout(height=320, title="Loss", xaxis_title="step", **LAYOUT)
    return fig


def quality_figure(rows: list[dict]) -> go.Figure:
    fig = go.Figure()
    for split, name, colour, dash, label in (
            ("target.val", "accuracy", VAL, "solid", "target val accuracy"),
            ("target.val", "macro_f1", TEST, "solid", "target val macro F1"),
            ("source.val", "accuracy", SOURCE, "dot", "source val accuracy")):
        epochs, values = series(rows, split, name, x="epoch")
        if len(epochs):
            fig.add_scatter(x=_plain(epochs), y=_plain(values), mode="lines+markers", name=label,
                            line=dict(color=colour, dash=dash),
                            hovertemplate="epoch %{x}: %{y:.1%}")
    fig.update_layout(height=320, title="Validation accuracy and macro F1", xaxis_title="epoch",
                      yaxis=dict(tickformat=".0%", range=[0, 1.02]), **LAYOUT)
    fig.update_xaxes(dtick=1, rangemode="tozero")
    if not fig.data:
        fig.add_annotation(text="appears when the first epoch ends", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper", font=dict(color="grey"))
    return fig


def adaptation_figure(rows: list[dict]) -> go.Figure | None:
    names = [n for n in ADAPTATION if any(r["split"] == "train" and r["name"] == n for r in rows)]
    if not names:
        return None
    fig = go.Figure()
    for name in names:
        steps, values = series(rows, "train", name)
        fig.add_scatter(x=_plain(steps), y=_plain(smooth(values, 10) if name.endswith(("loss", "acc")) else values),
                        mode="lines", name=ADAPTATION[name])
    fig.update_layout(height=320, title="Adaptation (smoothed)", xaxis_title="step", **LAYOUT)
    return fig


def curve_figures(rows: list[dict]) -> dict[str, go.Figure]:
    """The live charts of a run: loss, validation quality and, for adaptation methods, the
    domain terms."""
    figures = {"loss": loss_figure(rows), "quality": quality_figure(rows)}
    adaptation = adaptation_figure(rows)
    if adaptation is not None:
        figures["adaptation"] = adaptation
    return figures


def freeze_timeline_figure(rows: list[dict]) -> go.Figure | None:
    """Which stages trained in which epoch: grows an epoch at a time, so gradual unfreezing
    is seen happening. None while the map has not changed (the Model page shows a fixed one)."""
    frozen = [r for r in rows if r["split"] == "frozen"]
    if len({(r["name"], r["value"]) for r in frozen}) == len({r["name"] for r in frozen}):
        return None
    stages = list(dict.fromkeys(r["name"] for r in frozen))
    epochs = sorted({r["epoch"] for r in frozen})
    state = {(r["name"], r["epoch"]): r["value"] for r in frozen}
    z = [[1 - state.get((s, e), 1) for e in epochs] for s in stages]  # 1 training, 0 frozen
    text = [["training" if v else "frozen" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=epochs, y=stages, text=text, hovertemplate="%{y}, epoch %{x}: %{text}",
                               colorscale=[[0, FROZEN], [1, TRAINABLE]], zmin=0, zmax=1, showscale=False,
                               xgap=2, ygap=2))
    fig.update_layout(height=60 + 28 * len(stages), title="Freeze map per epoch (green: training)",
                      xaxis_title="epoch", **LAYOUT)
    fig.update_xaxes(dtick=1)
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def weights_figure(weights: list[float]) -> go.Figure:
    """Distribution of the source samples' instance weights (1: as target-like as average)."""
    fig = go.Figure(go.Histogram(x=weights, nbinsx=40, marker_color=SOURCE))
    fig.update_layout(height=300, title=f"Source instance weights ({len(weights):,} samples)",
                      xaxis_title="weight", yaxis_title="samples", **LAYOUT)
    return fig
