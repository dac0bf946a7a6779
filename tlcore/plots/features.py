"""The feature map: probe points of source and target in 2-D, coloured by domain, class,
prediction or correctness; its replay over epochs; the domain-gap numbers over epochs."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .style import LAYOUT, SOURCE, TRAIN

COLOUR_BY = {"domain": "Domain", "class": "Class", "predicted": "Predicted class", "correct": "Correct / wrong"}
SYMBOLS = {"target": "circle", "source": "diamond"}
DOMAIN_COLOURS = {"target": TRAIN, "source": SOURCE}
CORRECT_COLOURS = {"correct": "#54A24B", "wrong": "#E45756", "no prediction": "#BAB0AC"}
PALETTE = ("#4C78A8", "#F58518", "#E45756", "#72B7B2", "#54A24B", "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D",
           "#BAB0AC", "#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#7F7F7F")
GAP_NAMES = {"a_distance": "proxy A-distance", "mmd": "MMD²", "knn_target": "k-NN accuracy, target",
             "knn_source": "k-NN accuracy, source"}


def point_groups(probe: dict, pred: list[int] | None, colour_by: str) -> tuple[list[str], dict[str, str]]:
    """The colour group of every probe point and each group's colour, in legend order."""
    names = probe["class_names"]
    if colour_by == "domain":
        groups = list(probe["domain"])
        return groups, {d: DOMAIN_COLOURS[d] for d in ("target", "source") if d in groups}
    if colour_by == "correct":
        groups = ["no prediction" if p is None or p < 0 else "correct" if p == y else "wrong"
                  for p, y in zip(pred or [None] * len(probe["label"]), probe["label"])]
        return groups, {g: c for g, c in CORRECT_COLOURS.items() if g in groups}
    values = probe["label"] if colour_by == "class" else (pred or [-1] * len(probe["label"]))
    groups = [names[v] if 0 <= v < len(names) else "no prediction" for v in values]
    order = [n for n in names if n in set(groups)] + (["no prediction"] if "no prediction" in groups else [])
    return groups, {g: (PALETTE[names.index(g) % len(PALETTE)] if g in names else "#BAB0AC") for g in order}


def marker_sizes(probe: dict) -> np.ndarray:
    """7 px, or for a weighted source point 4-18 px by its instance weight (weights are mean 1)."""
    sizes = np.full(len(probe["domain"]), 7.0)
    weights = probe.get("weight")
    if weights:
        w = np.array([np.nan if v is None else v for v in weights], dtype=float)
        has = ~np.isnan(w)
        if has.any():
            sizes[has] = np.clip(4 + 7 * w[has] / np.nanmean(w), 4, 18)
    return sizes


def hover_texts(probe: dict, pred: list[int] | None) -> list[str]:
    names = probe["class_names"]
    weights = probe.get("weight") or [None] * len(probe["label"])
    out = []
    for k, (d, y, i) in enumerate(zip(probe["domain"], probe["label"], probe["id"])):
        p = pred[k] if pred else -1
        text = f"<b>{i}</b><br>{d} · class {names[y]}"
        text += f"<br>predicted {names[p]}" + (" ✓" if p == y else " ✗") if 0 <= p < len(names) else ""
        text += f"<br>weight {weights[k]:.2f}" if weights[k] is not None else ""
        out.append(text)
    return out


def _traces(xy: np.ndarray, probe: dict, pred, colour_by: str, show_legend: bool = True,
            hover: bool = True) -> list[go.Scatter]:
    """One trace per colour group and domain, so each has one marker symbol: plotly validates
    per-point lists item by item, and 2,000 symbols cost more than the rest of the figure."""
    groups, colours = point_groups(probe, pred, colour_by)
    groups, domain = np.asarray(groups), np.asarray(probe["domain"])
    sizes = marker_sizes(probe)
    texts = np.asarray(hover_texts(probe, pred), dtype=object) if hover else None
    traces = []
    for g, colour in colours.items():
        first = True
        for d in ("target", "source"):
            idx = np.flatnonzero((groups == g) & (domain == d))
            if not len(idx):
                continue
            size = sizes[idx] if np.ptp(sizes[idx]) > 0 else float(sizes[idx[0]])
            traces.append(go.Scatter(
                x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=g, legendgroup=g,
                showlegend=show_legend and first, customdata=idx,
                hovertext=texts[idx] if hover else None, hoverinfo="text" if hover else "skip",
                marker=dict(color=colour, size=size, symbol=SYMBOLS[d], opacity=0.75, line=dict(width=0))))
            first = False
    return traces


def feature_map_figure(xy: np.ndarray, probe: dict, pred: list[int] | None, colour_by: str = "domain",
                       title: str = "", ranges: tuple | None = None) -> go.Figure:
    """One snapshot's map. Each point's ``customdata`` is its probe index (for selections)."""
    fig = go.Figure(_traces(np.asarray(xy), probe, pred, colour_by))
    # The legend below the map: ten or more classes would run into the title above it.
    fig.update_layout(**{**LAYOUT, "legend": dict(orientation="h", x=0, y=-0.02, yanchor="top")},
                      title=title, height=480, dragmode="select", uirevision="map",
                      xaxis=dict(visible=False, range=ranges[0] if ranges else None),
                      yaxis=dict(visible=False, range=ranges[1] if ranges else None, scaleanchor="x"))
    return fig


def map_ranges(layouts: list[np.ndarray], pad: float = 0.05) -> tuple:
    """Axis ranges that hold every layout, so maps drawn side by side share one frame."""
    xy = np.concatenate([np.asarray(a) for a in layouts])
    lo, hi = xy.min(0), xy.max(0)
    span = np.maximum(hi - lo, 1e-6) * pad
    return ((float(lo[0] - span[0]), float(hi[0] + span[0])), (float(lo[1] - span[1]), float(hi[1] + span[1])))


def replay_figure(layouts: list[np.ndarray], epochs: list[int], probe: dict, colour_by: str = "domain",
                  kinds: list[str] | None = None) -> go.Figure:
    """The map over epochs as an animation with a play button and a slider. Colours are by
    domain or class here: their groups stay fixed while the points move."""
    colour_by = colour_by if colour_by in ("domain", "class") else "class"
    ranges = map_ranges(layouts)
    # Hover texts only in the first frame's traces: frames carry positions, not 2,000 strings each.
    frames = [go.Frame(data=_traces(np.asarray(xy), probe, None, colour_by, hover=False), name=str(e))
              for xy, e in zip(layouts, epochs)]
    fig = go.Figure(data=frames[-1].data if frames else [], frames=frames)
    label = lambda k: f"epoch {epochs[k]}" + (f" ({kinds[k]})" if kinds and kinds[k] != "umap" else "")  # noqa: E731
    steps = [dict(method="animate", label=label(k), args=[[str(e)], dict(mode="immediate", frame=dict(
        duration=600, redraw=True), transition=dict(duration=400))]) for k, e in enumerate(epochs)]
    fig.update_layout(
        **{**LAYOUT, "margin": dict(l=10, r=10, t=40, b=60)}, height=520,
        xaxis=dict(visible=False, range=ranges[0]), yaxis=dict(visible=False, range=ranges[1], scaleanchor="x"),
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.02, xanchor="left", yanchor="top",
                          showactive=False, buttons=[
                              dict(label="▶ Play", method="animate", args=[None, dict(
                                  frame=dict(duration=900, redraw=True), transition=dict(duration=500),
                                  fromcurrent=False, mode="immediate")]),
                              dict(label="❚❚ Pause", method="animate", args=[[None], dict(
                                  frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=len(steps) - 1, steps=steps, x=0.2, len=0.8, y=-0.02, yanchor="top",
                      currentvalue=dict(prefix="", visible=True))])
    return fig


def gap_figure(snapshots: list[dict]) -> go.Figure:
    """The domain-gap numbers of every laid-out snapshot, over epochs."""
    fig = go.Figure()
    for key, name in GAP_NAMES.items():
        points = [(s["epoch"], s["gap"][key]) for s in snapshots if s.get("gap") and s["gap"].get(key) is not None]
        if points:
            x, y = zip(*points)
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name,
                                     line=dict(dash="dot" if key == "knn_source" else None)))
    fig.update_layout(**LAYOUT, height=300, title="Domain gap over epochs",
                      xaxis=dict(title="epoch", dtick=1), yaxis=dict(title="", rangemode="tozero"))
    return fig


def selection_summary(probe: dict, pred: list[int] | None, indices: list[int]) -> list[dict]:
    """Per domain: how many selected points, and the accuracy among them (if predicted)."""
    rows = []
    for d in ("target", "source"):
        idx = [i for i in indices if probe["domain"][i] == d]
        if not idx:
            continue
        known = [i for i in idx if pred and pred[i] is not None and pred[i] >= 0]
        acc = sum(pred[i] == probe["label"][i] for i in known) / len(known) if known else None
        rows.append({"domain": d, "points": len(idx), "accuracy": acc})
    return rows
