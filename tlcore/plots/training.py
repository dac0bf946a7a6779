"""Live training figures, drawn from the run store's metric rows
(dicts with step, epoch, split, name, value)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..strategies import step_metric_labels
from .style import FROZEN, LAYOUT, SOURCE, TEST, TRAIN, TRAINABLE, VAL


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
        fig.add_scatter(x=_plain(steps), y=_plain(loss), mode="lines", name="train loss (per step)",
                        line=dict(color=TRAIN, width=1), opacity=0.3)
        fig.add_scatter(x=_plain(steps), y=_plain(smooth(loss)), mode="lines", name="train loss (smoothed)",
                        line=dict(color=TRAIN))
    ends = _epoch_end_steps(rows)
    for split, colour, label in (("target.val", VAL, "target val loss"), ("source.val", SOURCE, "source val loss")):
        epochs, val = series(rows, split, "loss", x="epoch")
        if len(epochs):
            fig.add_scatter(x=[ends.get(e, e) for e in epochs.tolist()], y=_plain(val), mode="lines+markers",
                            name=label, line=dict(color=colour), customdata=_plain(epochs),
                            hovertemplate="epoch %{customdata}: %{y:.3f}")
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
    """The step values that describe the adaptation rather than the classification: what
    each strategy declares in its StrategyInfo.metrics."""
    labels = step_metric_labels()
    names = [n for n in labels if any(r["split"] == "train" and r["name"] == n for r in rows)]
    if not names:
        return None
    fig = go.Figure()
    for name in names:
        steps, values = series(rows, "train", name)
        fig.add_scatter(x=_plain(steps), y=_plain(smooth(values, 10) if name.endswith(("loss", "acc")) else values),
                        mode="lines", name=labels[name])
    fig.update_layout(height=320, title="Adaptation (smoothed)", xaxis_title="step", **LAYOUT)
    return fig


def discriminator_figure(rows: list[dict]) -> go.Figure | None:
    """DANN's game on one 0-1 axis: the domain discriminator's accuracy (smoothed) against
    chance, and the gradient-reversal weight lambda. None for a run without them."""
    steps, acc = series(rows, "train", "domain_acc")
    if not len(steps):
        return None
    fig = go.Figure()
    fig.add_scatter(x=_plain(steps), y=_plain(smooth(acc, 10)), mode="lines", name="discriminator accuracy")
    lam_steps, lam = series(rows, "train", "lambda")
    if len(lam_steps):
        fig.add_scatter(x=_plain(lam_steps), y=_plain(lam), mode="lines", name="lambda (reversal weight)")
    fig.add_hline(y=0.5, line_dash="dot", line_color="#888", annotation_text="chance: the domains look alike",
                  annotation_position="bottom right")
    fig.update_layout(**{**LAYOUT, "legend": dict(orientation="h", x=0, y=-0.25, yanchor="top")}, height=340,
                      title="Discriminator accuracy and lambda", xaxis_title="step", yaxis=dict(range=[0, 1.05]))
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


# ---- seed groups: one line for the mean, a band for the seeds' spread

def seed_band(runs: list[list[dict]], split: str = "target.val", name: str = "accuracy") -> dict | None:
    """Mean and spread of one per-epoch metric over a seed group's runs (their metric rows).

    Each epoch counts the runs that reached it (a running seed is behind the finished ones).
    The band is mean ± 1 sample standard deviation where 3 or more runs are there, and the
    min-max range where only 2 are (the std of two values is their distance over √2: wider
    than what was seen). None when no run has the metric yet."""
    per_run = [dict(zip(*(a.tolist() for a in series(rows, split, name, x="epoch")))) for rows in runs]
    epochs = sorted(set().union(*per_run)) if per_run else []
    if not epochs:
        return None
    band = {"epoch": epochs, "mean": [], "low": [], "high": [], "n": []}
    for epoch in epochs:
        values = np.array([r[epoch] for r in per_run if epoch in r])
        mean = float(values.mean())
        std = float(values.std(ddof=1)) if len(values) >= 3 else None
        band["mean"].append(mean)
        band["low"].append(mean - std if std is not None else float(values.min()))
        band["high"].append(mean + std if std is not None else float(values.max()))
        band["n"].append(len(values))
    most = max(band["n"])
    band["band"] = "±1 std" if most >= 3 else "min–max" if most == 2 else None
    return band


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _band_legend(band: dict, label: str | None) -> str:
    """'A · finetune (mean of 3 seeds, band ±1 std)', or without a label 'mean of 3 seeds (band ±1 std)'."""
    mean = f"mean of {max(band['n'])} seeds"
    if label is None:
        return mean + (f" (band {band['band']})" if band["band"] else "")
    return f"{label} ({mean}" + (f", band {band['band']})" if band["band"] else ")")


def add_band(fig: go.Figure, band: dict, label: str | None, colour: str, percent: bool = True) -> None:
    """The mean as a line with markers and, behind it, the band (hover: mean, range, n).
    ``label``: the group's name in the legend (None: the figure shows one group)."""
    x, fmt, name = band["epoch"], ".1%" if percent else ".3f", _band_legend(band, label)
    if band["band"]:
        fig.add_scatter(x=x, y=band["high"], mode="lines", line=dict(width=0), showlegend=False,
                        hoverinfo="skip", legendgroup=name)
        fig.add_scatter(x=x, y=band["low"], mode="lines", line=dict(width=0), fill="tonexty",
                        fillcolor=_rgba(colour, 0.2), showlegend=False, hoverinfo="skip", legendgroup=name)
    fig.add_scatter(x=x, y=band["mean"], mode="lines+markers", name=name, line=dict(color=colour),
                    legendgroup=name, customdata=list(zip(band["low"], band["high"], band["n"])),
                    hovertemplate=f"epoch %{{x}}: mean %{{y:{fmt}}}, band %{{customdata[0]:{fmt}}}–"
                                  f"%{{customdata[1]:{fmt}}} (n=%{{customdata[2]}})<extra></extra>")


def group_curve_figure(runs: dict[str, list[dict]], split: str = "target.val", name: str = "accuracy") -> go.Figure:
    """A seed group's validation curve: each seed thin, their mean with its band on top.
    ``runs``: seed label -> metric rows."""
    fig = go.Figure()
    for label, rows in runs.items():
        epochs, values = series(rows, split, name, x="epoch")
        if len(epochs):
            fig.add_scatter(x=_plain(epochs), y=_plain(values), mode="lines", name=label, opacity=0.45,
                            line=dict(color=VAL, width=1, dash="dot"), showlegend=False,
                            hovertemplate=f"{label}, epoch %{{x}}: %{{y:.1%}}<extra></extra>")
    band = seed_band(list(runs.values()), split, name)
    if band:
        add_band(fig, band, None, VAL)
    fig.update_layout(height=320, title=f"Seed group: {split.replace('.', ' ')} {name.replace('_', ' ')} "
                                        "(dotted: each seed)",
                      xaxis_title="epoch", yaxis=dict(tickformat=".0%", range=[0, 1.02]), **LAYOUT)
    fig.update_xaxes(dtick=1, rangemode="tozero")
    if not fig.data:
        fig.add_annotation(text="appears when the first epoch ends", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper", font=dict(color="grey"))
    return fig
