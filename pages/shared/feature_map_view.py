"""The feature map on screen: a run's snapshots (Features page) or the pretrained view of
the chosen data (Data page). Everything is read from snapshot files; nothing is computed
here but figures, so the page stays responsive while the worker lays out the next map."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from tlcore.config import DEFAULT_BACKBONE, ModelConfig
from tlcore.embed.snapshots import coordinates, read_probe, read_snapshots, read_thumbs, signature
from tlcore.plots import COLOUR_BY, feature_map_figure, map_ranges, selection_summary

from .format import percent

GAP_METRICS = (("a_distance", "A-distance (0-2)", "{:.2f}"), ("mmd", "MMD²", "{:.3f}"),
               ("knn_target", "Target 5-NN accuracy", "{:.0%}"), ("knn_source", "Source 5-NN accuracy", "{:.0%}"))
GAP_HELP = {
    "a_distance": "Proxy A-distance: 2(1 - 2 x error) of a linear classifier telling source from target features "
                  "(on the 20 main directions of the pooled features). 0: indistinguishable, 2: always told apart",
    "mmd": "Maximum mean discrepancy (squared, multi-kernel Gaussian) between the two feature clouds; 0 when they "
           "match",
    "knn_target": "5-NN accuracy of the target's features (5-fold): do the classes separate?",
    "knn_source": "5-NN accuracy of the source's features (5-fold)",
}
# The layouts are big lists: keep a few folders' worth, so redraws do not grow the server's memory.
_CACHE = dict(max_entries=4, show_spinner=False)


@st.cache_data(**_CACHE)
def load_map(folder: str, sig: tuple) -> tuple[dict | None, list[dict]]:
    """(probe, snapshots) of ``folder``; ``sig`` (the files' mtimes) makes a new snapshot a new entry."""
    return read_probe(Path(folder)), read_snapshots(Path(folder))


@st.cache_data(**_CACHE)
def load_thumbs(folder: str) -> np.ndarray | None:
    return read_thumbs(Path(folder))


def current_map(folder: Path, sig: tuple | None = None) -> tuple[dict | None, list[dict]]:
    return load_map(str(folder), signature(folder) if sig is None else sig)


def gap_metrics(snapshot: dict, baseline: dict | None = None) -> None:
    """The domain-gap numbers of one snapshot, with the change since ``baseline``."""
    gap, base = snapshot.get("gap") or {}, (baseline or {}).get("gap") or {}
    shown = [m for m in GAP_METRICS if gap.get(m[0]) is not None]
    if not shown:
        st.caption("Domain-gap numbers: computed with the UMAP layout, in a moment.")
        return
    for col, (name, label, fmt) in zip(st.columns(len(shown)), shown):
        delta = None
        if baseline is not None and base.get(name) is not None and baseline is not snapshot:
            change = gap[name] - base[name]
            delta = (f"{change * 100:+.0f} pts" if fmt.endswith("%}") else f"{change:+.2f}" if name == "a_distance"
                     else f"{change:+.3f}") + " since epoch 0"
        col.metric(label, fmt.format(gap[name]), delta=delta, help=GAP_HELP[name],
                   delta_color="inverse" if name in ("a_distance", "mmd") else "normal")


def gap_verdict(gap: dict) -> str:
    a = gap.get("a_distance")
    if a is None:
        return ""
    return ("The domains look very different to this network: training on the source alone will likely lose "
            "accuracy on the target, so domain adaptation has room to help." if a >= 1.5 else
            "The domains differ moderately." if a >= 0.5 else
            "The network can hardly tell the domains apart: source-only training should transfer well.")


def layout_note(kind: str) -> str:
    return ("UMAP" if kind == "umap" else
            "PCA for now: the UMAP layout is being computed (the first one on a machine takes up to a minute)")


def colour_choice(key: str, options=tuple(COLOUR_BY)) -> str:
    st.session_state.setdefault(key, "domain")
    if st.session_state[key] not in options:
        st.session_state[key] = options[0]
    return st.segmented_control("Colour by", list(options), key=key, format_func=COLOUR_BY.get) or "domain"


def selected_points(event) -> list[int]:
    """Probe indices of the points a box or lasso selected (each trace carries them as customdata)."""
    try:
        points = event.selection.points
    except AttributeError:
        return []
    out = []
    for p in points:
        data = p.get("customdata")
        if isinstance(data, list):
            data = data[0] if data else None
        if isinstance(data, (int, float)):
            out.append(int(data))
    return sorted(set(out))


def show_selection(folder: Path, probe: dict, pred: list[int] | None, indices: list[int]) -> None:
    if not indices:
        st.caption("Draw a box or lasso round points on the map to list their images here.")
        return
    rows = selection_summary(probe, pred, indices)
    st.markdown(f"**{len(indices):,} selected** · " + " · ".join(
        f"{r['domain']}: {r['points']:,}" + (f", accuracy {percent(r['accuracy'])}" if r["accuracy"] is not None
                                            else "") for r in rows))
    names, thumbs = probe["class_names"], load_thumbs(str(folder))
    grid = st.columns(10)
    for k, i in enumerate(indices[:40]):
        p = pred[i] if pred else -1
        caption = f"{probe['domain'][i][0].upper()} · {names[probe['label'][i]]}"
        caption += f" → {names[p]}" if 0 <= p < len(names) else ""
        if thumbs is not None and i < len(thumbs):
            grid[k % 10].image(thumbs[i], width=56, caption=caption)
    table = [{"image": probe["id"][i], "domain": probe["domain"][i], "class": names[probe["label"][i]],
              "predicted": names[pred[i]] if pred and 0 <= pred[i] < len(names) else "",
              "correct": (pred[i] == probe["label"][i]) if pred and pred[i] >= 0 else None} for i in indices]
    st.dataframe(table, hide_index=True, width="stretch", height=min(36 * (len(table) + 1), 300))


def before_and_now(folder: Path, probe: dict, snapshots: list[dict], colour_by: str, key: str) -> None:
    """Epoch 0 and a chosen epoch side by side in one frame; selection on the right-hand map."""
    epochs = [s["epoch"] for s in snapshots]
    latest_key, pick_key = f"{key}.latest", f"{key}.epoch"
    # Follow new snapshots while the newest is shown; stay where the user went otherwise.
    value, seen_latest = st.session_state.get(pick_key), st.session_state.get(latest_key)
    if value not in epochs or (value == seen_latest and epochs[-1] != seen_latest):
        st.session_state[pick_key] = epochs[-1]
    st.session_state[latest_key] = epochs[-1]
    if len(epochs) > 1:
        picked = st.select_slider("Epoch", epochs, key=pick_key, format_func=lambda e: f"epoch {e}")
    else:
        picked = epochs[-1]
    now = snapshots[epochs.index(picked)]
    first = snapshots[0]
    (xy0, kind0), (xy1, kind1) = coordinates(first), coordinates(now)
    ranges = map_ranges([xy0, xy1]) if kind0 == kind1 else None
    left, right = st.columns(2)
    if now is not first:
        with left:
            st.plotly_chart(feature_map_figure(xy0, probe, first.get("pred"), colour_by,
                                               f"Before transfer (epoch {first['epoch']})", ranges),
                            width="stretch", key=f"{key}.before", config={"displayModeBar": False})
            st.caption(layout_note(kind0))
    with right if now is not first else left:
        title = f"Epoch {now['epoch']}" if now is not first else f"Before transfer (epoch {now['epoch']})"
        event = st.plotly_chart(feature_map_figure(xy1, probe, now.get("pred"), colour_by, title, ranges),
                                width="stretch", key=f"{key}.now", on_select="rerun",
                                selection_mode=("box", "lasso"))
        st.caption(layout_note(kind1) + " · draw a box or lasso to select")
    if now is first:
        with right:
            st.info("The next snapshot comes after the first epoch (then every "
                    "few, as the run was set up); it will appear here, beside this one, in the same frame.")
    gap_metrics(now, first)
    show_selection(folder, probe, now.get("pred"), selected_points(event))


def pretrained_map(store, source_spec: str | None, target_spec: str) -> None:
    """Before any training: the chosen backbone's map of the chosen data, with the gap numbers.
    Computed by a background job (tlcore.embed.pretrained), once per choice of data and model."""
    from tlcore.backbones import backbone_info
    from tlcore.embed.pretrained import map_state, start_pretrained_map

    from .train_form import ON_CPU
    backbone = st.session_state.get("model.backbone", DEFAULT_BACKBONE)
    weights = st.session_state.get("model.weights", ModelConfig.weights)
    size = int(st.session_state.get("train.image_size") or (64 if ON_CPU else backbone_info(backbone).input_size))
    per_class = int(st.session_state.get("train.per_class", 100 if ON_CPU else 0)) or None
    per_domain = int(st.session_state.get("train.map_points", 500 if ON_CPU else 1000))
    st.subheader("How far apart are source and target?" if source_spec else "Do the classes separate?")
    st.caption(f"The map and numbers of `{backbone}` features ({weights} weights, before any training) of up to "
               f"{per_domain:,} images per domain at {size} px: the probe a run with the Train page's settings "
               "starts from.")
    spec = (target_spec, source_spec, backbone, weights, size, per_class, per_domain)
    if st.session_state.get("data.map_for") != spec:
        if not st.button("Map the pretrained features", key="ui.map_pretrained", icon=":material/scatter_plot:"):
            return
        if store is None:
            st.error("The runs folder cannot be used, so the map has nowhere to go.")
            return
        folder = start_pretrained_map(store.root, target_spec, source_spec, backbone, weights, size, per_class,
                                      per_domain).folder
        st.session_state["data.map_for"], st.session_state["data.map_folder"] = spec, str(folder)
    folder = Path(st.session_state["data.map_folder"])
    state, detail, _ = map_state(folder)
    sig = signature(folder)
    _draw_pretrained(folder, state, detail, sig)
    if state == "running":
        st.fragment(run_every=0.5)(_watch_pretrained)(folder, sig, detail)


def _watch_pretrained(folder: Path, seen: tuple, detail: str) -> None:
    from tlcore.embed.pretrained import map_state
    state, now, _ = map_state(folder)
    if signature(folder) != seen or state != "running" or now != detail:  # e.g. a slot came free
        st.rerun()


def _draw_pretrained(folder: Path, state: str, detail: str, sig: tuple) -> None:
    if state == "failed":
        st.error(f"The map could not be computed: {detail}")
        return
    probe, snapshots = current_map(folder, sig)
    if probe is None or not snapshots:
        st.info(f"{detail[:1].upper()}{detail[1:]}…" if state == "running" and detail else  # e.g. waiting for a slot
                "Computing the features of both domains…" if state == "running" else "No map yet.")
        return
    snap = snapshots[0]
    xy, kind = coordinates(snap)
    left, right = st.columns([3, 2])
    with left:
        colour_by = colour_choice("data.map_colour", ("domain", "class"))
        event = st.plotly_chart(feature_map_figure(xy, probe, None, colour_by, "Pretrained features"),
                                width="stretch", key="ui.map_pretrained_plot", on_select="rerun",
                                selection_mode=("box", "lasso"))
        st.caption(layout_note(kind))
    with right:
        gap = snap.get("gap") or {}
        for name, label, fmt in GAP_METRICS:
            if gap.get(name) is not None:
                st.metric(label, fmt.format(gap[name]), help=GAP_HELP[name])
        if gap:
            st.caption(gap_verdict(gap))
        else:
            st.caption("Domain-gap numbers: computed with the UMAP layout, in a moment.")
    show_selection(folder, probe, None, selected_points(event))
