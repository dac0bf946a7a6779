"""What the model looks at, on screen: Grad-CAM heat maps over a run's test images
(Evaluate page) and over uploaded images (Predict page).

The maps are computed here, in the server process, on the CPU: a forward and a backward
pass over a handful of images (at most ``MAX_IMAGES`` at a time), cached per checkpoint
and per image, so a rerun redraws at once. A model, the test images and the maps are
each cached on their own: paging through the test set pays only for the new maps.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from tlcore.backbones import WeightsError
from tlcore.explain import CamExplainer, NoSpatialLayer, RunImagesUnavailable, overlay, run_test_images
from tlcore.predict import NoCheckpoint, Predictor
from tlcore.run_folder import RunFolder
from tlcore.runs import RunRecord

DISPLAY_PX = 192  # images and maps are drawn this wide
# Images a page of maps: 16 maps (predicted + true class) of lite0 at 224 px took 0.5-0.8 s
# on 2 busy CPU cores (0.03 s at 64 px), 2-4 s when torch's OpenMP threads spin (no
# OMP_WAIT_POLICY=PASSIVE in the server). The first map also pays grad-cam's import (~3 s).
MAX_IMAGES = 8
ABOUT = ("Grad-CAM (Selvaraju et al., 2017): red marks the places whose features raised the class's score the "
         "most, read from the last feature layer that still has a map. A map answers *where* the evidence for a "
         "class lies; a map on the background or on an edge is a hint that the model learnt a shortcut.")
_UNUSABLE = (NoCheckpoint, WeightsError, NoSpatialLayer, ValueError, OSError)


def _stamp(folder: str, which: str) -> float:
    """When the checkpoint a Predictor of ``which`` loads was saved (0: none yet)."""
    path = RunFolder(folder).checkpoint(which)
    return path.stat().st_mtime if path is not None else 0.0


@st.cache_resource(max_entries=2, show_spinner="Loading the run's checkpoint for the heat maps…")
def _run_explainer(folder: str, which: str, stamp: float) -> CamExplainer:  # stamp: a newer checkpoint reloads
    return CamExplainer.for_model(Predictor(folder, which=which))


@st.cache_resource(max_entries=2, show_spinner=False)
def _upload_explainer(checkpoint: str, stamp: float, _model: Predictor) -> CamExplainer:
    return CamExplainer.for_model(_model)


@st.cache_resource(max_entries=2, show_spinner="Loading the run's test images…")
def _test_images(folder: str, stamp: float):
    return run_test_images(folder)


@st.cache_data(max_entries=32, show_spinner=False)
def _runner_ups(key: tuple, _explainer: CamExplainer, images: tuple[np.ndarray, ...],
                tops: tuple[int, ...]) -> tuple[int, ...]:
    """The second most probable class of each image: the map worth showing when the top one is right."""
    if not images:
        return ()
    logits = _explainer.logits(list(images))
    logits[np.arange(len(tops)), list(tops)] = -np.inf
    return tuple(int(c) if logits.shape[1] > 1 else t for c, t in zip(logits.argmax(1), tops))


@st.cache_data(max_entries=32, show_spinner=False)
def _maps(key: tuple, _explainer: CamExplainer, images: tuple[np.ndarray, ...],
          classes: tuple[int, ...]) -> tuple[list[np.ndarray], np.ndarray, list[bool]]:
    """(overlays, probabilities, whether any place speaks for the class) of each (image,
    class); ``key`` names the checkpoint."""
    result = _explainer.explain(list(images), list(classes))
    return ([overlay(for_display(im), h) for im, h in zip(images, result.heat)], result.probs,
            [bool(h.max() > 0) for h in result.heat])


def for_display(image: np.ndarray) -> np.ndarray:
    """Small images (28-px digits) enlarged, pixels kept square, so the map over them is smooth."""
    h, w = image.shape[:2]
    if max(h, w) >= DISPLAY_PX:
        return image
    scale = -(-DISPLAY_PX // max(h, w))
    return np.repeat(np.repeat(np.asarray(image), scale, axis=0), scale, axis=1)


def gradcam_section(run: RunRecord, predictions: dict | None) -> None:
    """Evaluate page: test images next to the heat maps of their predicted and true classes.
    ``predictions`` is ``tlcore.runs.read.target_test_predictions`` of the run."""
    st.subheader("What the model looks at")
    st.caption(ABOUT)
    if not predictions or not predictions.get("true"):
        st.info("Heat maps appear once the run has evaluated its test set (after its first epoch).")
        return
    folder = str(run.folder)
    try:
        explainer = _run_explainer(folder, "last", _stamp(folder, "last"))  # the weights the predictions came from
        test = _test_images(folder, _stamp(folder, "last"))
    except (*_UNUSABLE, RunImagesUnavailable) as exc:
        st.info(f"No heat maps for this run: {exc}")
        return
    if test.note:
        st.caption(f"Note: {test.note}.")
    true, pred = predictions["true"], predictions["pred"]
    n = min(len(true), len(test.images))
    wrong, shown = _pick_images(predictions, n)
    if not shown:
        return
    # Two maps an image: the predicted class, and the true class (the runner-up when they agree).
    key = (folder, _stamp(folder, "last"), explainer.layer.name)
    try:
        right = [i for i in shown if true[i] == pred[i]]
        runner_up = dict(zip(right, _runner_ups(key, explainer, tuple(test.images[i] for i in right),
                                                tuple(int(pred[i]) for i in right))))
        second = [int(true[i]) if true[i] != pred[i] else runner_up[i] for i in shown]
        images = tuple(test.images[i] for i in shown) * 2
        classes = tuple(int(pred[i]) for i in shown) + tuple(second)
        with st.spinner(f"Computing {len(classes)} heat maps…"):
            maps = _maps(key, explainer, images, classes)
    except (NoSpatialLayer, ValueError, RuntimeError) as exc:
        st.info(f"The heat maps could not be computed: {exc}")
        return
    st.caption(f"Read from layer `{explainer.layer.name}` ({explainer.layer.grid[0]} x {explainer.layer.grid[1]} "
               f"cells at {explainer.size} px); {len(wrong):,} of {n:,} test images are misclassified.")
    _draw_maps(test, predictions, shown, second, maps)


def _pick_images(predictions: dict, n: int) -> tuple[list[int], list[int]]:
    """(the misclassified test images, those on the page the user picked)."""
    true, pred, conf = predictions["true"], predictions["pred"], predictions["confidence"]
    wrong = sorted((i for i in range(n) if true[i] != pred[i]), key=lambda i: -conf[i])
    c1, c2, c3 = st.columns([2, 1, 1])
    # Defaults go through session state: eval.* keys are rewritten every run (see page_setup),
    # and a widget given a default as well would warn about it.
    st.session_state.setdefault("eval.gradcam_order", "Misclassified first")
    order_by = c1.segmented_control("Images", ["Misclassified first", "In test order"],
                                    key="eval.gradcam_order") or "Misclassified first"
    order = wrong + [i for i in range(n) if true[i] == pred[i]] if order_by == "Misclassified first" else list(range(n))
    st.session_state.setdefault("eval.gradcam_count", min(4, MAX_IMAGES))
    count = int(c2.number_input("How many", 1, MAX_IMAGES, key="eval.gradcam_count"))
    pages = max(1, -(-len(order) // count))
    # Another run (or another count) may have fewer pages than the one remembered.
    st.session_state["eval.gradcam_page"] = min(max(1, int(st.session_state.get("eval.gradcam_page", 1))), pages)
    page = int(c3.number_input("Page", 1, pages, key="eval.gradcam_page", help=f"{pages} pages of {count}"))
    return wrong, order[(page - 1) * count:page * count]


def _draw_maps(test, predictions: dict, shown: list[int], second: list[int], maps) -> None:
    """A row per image: the image, the predicted class's map, the true (or runner-up) class's."""
    overlays, probs, found = maps
    true, pred, names = predictions["true"], predictions["pred"], predictions["class_names"]
    k = len(shown)
    none = " · no place speaks for it"  # an all-zero map: every gradient-weighted feature is negative
    for j, i in enumerate(shown):
        a, b, c, _ = st.columns([1, 1, 1, 2])
        a.image(for_display(test.images[i]), width=DISPLAY_PX,
                caption=f"{Path(test.ids[i]).name} · true: {names[true[i]]}")
        b.image(overlays[j], width=DISPLAY_PX, caption=f"predicted: {names[pred[i]]} ({probs[j][pred[i]]:.0%})"
                + ("" if found[j] else none))
        label = "true" if true[i] != pred[i] else "runner-up"
        c.image(overlays[k + j], width=DISPLAY_PX,
                caption=f"{label}: {names[second[j]]} ({probs[k + j][second[j]]:.0%})" + ("" if found[k + j] else none))


def gradcam_for_uploads(model: Predictor, results: list[dict]) -> list[np.ndarray | None]:
    """Predict page: the heat map of each classified upload's top class, painted over it
    (None for a file that was not classified or beyond the first ``MAX_IMAGES``)."""
    out: list[np.ndarray | None] = [None] * len(results)
    todo = [j for j, r in enumerate(results) if r.get("top") and r.get("image") is not None][:MAX_IMAGES]
    if not todo:
        return out
    stamp = model.checkpoint.stat().st_mtime if model.checkpoint.exists() else 0.0
    try:
        explainer = _upload_explainer(str(model.checkpoint), stamp, model)
        classes = tuple(model.class_names.index(results[j]["top"][0][0]) for j in todo)
        with st.spinner(f"Computing {len(todo)} heat maps…"):
            overlays, _, _ = _maps((str(model.checkpoint), stamp, explainer.layer.name), explainer,
                                   tuple(results[j]["image"] for j in todo), classes)
    except (NoSpatialLayer, ValueError, RuntimeError) as exc:
        st.info(f"No heat maps for this run: {exc}")
        return out
    if len([r for r in results if r.get("top")]) > MAX_IMAGES:
        st.caption(f"Heat maps for the first {MAX_IMAGES} images.")
    st.caption(f"Heat maps of each image's top class, read from layer `{explainer.layer.name}` "
               f"({explainer.layer.grid[0]} x {explainer.layer.grid[1]} cells at {explainer.size} px).")
    for j, o in zip(todo, overlays):
        out[j] = o
    return out
