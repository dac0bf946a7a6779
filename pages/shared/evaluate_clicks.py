"""The Evaluate page at the level of single images: the test images behind a confusion-matrix
cell (clicked, or picked from a list without a mouse), the per-class table as a typed frame
that sorts by number, and two runs compared image by image (what the second fixed, what it
broke). The image logic itself lives in tlcore.runs.per_image; this module only draws it."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from tlcore.metrics import classification_metrics
from tlcore.plots import confusion_figure, per_class_rows
from tlcore.runs.per_image import NotComparable, cell_images, compare_runs, confusion_cells, mistakes

THUMB_PX = 72
MAX_SHOWN = 48  # thumbnails a list draws; the rest are counted, not drawn (each costs a PNG per rerun)
PER_CLASS_COLUMNS = ["class", "precision", "recall", "F1", "test images"]


def _keys(run_id: str) -> dict[str, str]:
    """Per run, so a click or choice on one run never carries over to another; ``ui.``: per page."""
    return {name: f"ui.eval_{name}.{run_id}" for name in ("chart", "cell", "last_click", "empty_cell")}


# ---- the per-class table

def per_class_frame(summary: dict) -> pd.DataFrame:
    """Per-class scores as a typed table, worst F1 first. Numeric columns: a click on a header
    then sorts by value (a list of dicts of mixed types can end up sorted as text)."""
    frame = pd.DataFrame(per_class_rows(summary), columns=PER_CLASS_COLUMNS)
    frame = frame.astype({"class": str, "precision": float, "recall": float, "F1": float, "test images": int})
    return frame.sort_values(["F1", "class"], kind="stable").reset_index(drop=True)


def per_class_table(summary: dict) -> None:
    frame = per_class_frame(summary)
    if frame.empty:
        st.caption("No per-class scores recorded for this run.")
        return
    pct = st.column_config.NumberColumn(format="percent")
    with st.container(key="eval_per_class"):
        st.dataframe(frame, hide_index=True, width="stretch",
                     column_config={"precision": pct, "recall": pct, "F1": pct})
    st.caption("Worst F1 first; click a column header to sort by it.")


# ---- the confusion matrix and its cells

def prediction_problem(predictions: dict | None) -> str | None:
    """Why these test predictions cannot be listed image by image; None when they can."""
    if predictions is None:
        return "this run has no per-image test predictions yet (they are written when an epoch is evaluated)"
    true, pred, confidence = predictions["true"], predictions["pred"], predictions["confidence"]
    if not len(true) == len(pred) == len(confidence):
        return "its predictions do not line up with its test images (written by another version?)"
    n = len(predictions["class_names"])
    if any(not 0 <= c < n for c in (*true, *pred)):
        return "its predictions name classes its test set does not have (written by another version?)"
    return None


def counts_matrix(predictions: dict) -> list[list[int]]:
    """The confusion matrix counted from the predictions themselves, so that a cell's number is
    exactly the images it lists (the summary's matrix is of the same epoch, but need not be)."""
    return classification_metrics(predictions["true"], predictions["pred"],
                                  predictions["class_names"])["confusion_matrix"]


def clicked_cell(event) -> tuple[int, int] | None:
    """The (true, predicted) of the cell marker a plotly_chart selection event reports."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points or []:
        data = point.get("customdata") if isinstance(point, dict) else None
        if isinstance(data, (list, tuple)) and len(data) >= 2:
            return int(data[0]), int(data[1])
    return None  # a point of the heatmap itself, or nothing selected


def chosen_cell(run_id: str, cells: list[tuple[int, int, int]]) -> tuple[int, int] | None:
    """The cell to show, settled before the chart and the select box are drawn: a new click
    wins (written into the select box, which keeps the two in sync), else the box's value;
    the most frequent confusion by default. A click on an empty cell empties the box."""
    keys, options = _keys(run_id), [(t, p) for t, p, _ in cells]
    clicked = clicked_cell(st.session_state.get(keys["chart"]))
    # The chart keeps reporting its last click on every rerun: only a change is a new click.
    if clicked != st.session_state.get(keys["last_click"]):
        st.session_state[keys["last_click"]] = clicked
        if clicked is not None:
            st.session_state[keys["cell"]] = clicked if clicked in options else None
            st.session_state[keys["empty_cell"]] = None if clicked in options else clicked
    if keys["cell"] not in st.session_state or st.session_state[keys["cell"]] not in [*options, None]:
        st.session_state[keys["cell"]] = options[0] if options else None
    return st.session_state[keys["cell"]] or st.session_state.get(keys["empty_cell"])


def confusion_chart(run_id: str, summary: dict, predictions: dict | None, class_names: list) -> tuple | None:
    """The confusion matrix, each cell clickable; returns the chosen cell (None: no cell lists
    images, e.g. a run recorded before per-image predictions existed)."""
    usable = prediction_problem(predictions) is None
    matrix = counts_matrix(predictions) if usable else summary.get("target.test.confusion_matrix")
    if matrix is None:
        return None
    chosen = chosen_cell(run_id, confusion_cells(predictions)) if usable else None
    normalise = st.toggle("Share of each true class", key="eval.normalise")
    st.plotly_chart(confusion_figure(matrix, class_names, normalise, chosen), width="stretch",
                    on_select="rerun", selection_mode="points", key=_keys(run_id)["chart"])
    if usable:
        st.caption("Click a cell to list its test images below.")
    return chosen


def cell_label(cell: tuple[int, int, int], names: list[str]) -> str:
    t, p, n = cell
    kind = "right" if t == p else "mistake"
    return f"true {names[t]} → predicted {names[p]} · {n:,} image{'s' * (n != 1)} ({kind})"


def cell_section(run_id: str, predictions: dict | None, chosen: tuple[int, int] | None) -> None:
    """Below the matrix: a select box of the non-empty cells (mistakes first; the keyboard way
    to the same choice as a click) and the chosen cell's test images, most confident first."""
    st.subheader("Images in a cell")
    problem = prediction_problem(predictions)
    if problem is not None:
        st.info(f"A cell cannot list its images: {problem}.", icon=":material/grid_off:")
        return
    names = [str(c) for c in predictions["class_names"]]
    cells = confusion_cells(predictions)
    counts = {(t, p): n for t, p, n in cells}
    st.selectbox("Cell", [(t, p) for t, p, _ in cells], key=_keys(run_id)["cell"], placeholder="an empty cell",
                 width=480, format_func=lambda c: cell_label((*c, counts[c]), names),
                 help="the non-empty cells, mistakes first (the most frequent confusion first); a click on the "
                      "matrix picks the same")
    if chosen is None:
        return
    t, p = chosen
    found = cell_images(predictions, t, p)
    with st.container(key="eval_cell_images"):
        if not found:
            st.info(f"No test image of class {names[t]} was predicted as {names[p]}: this cell is empty.",
                    icon=":material/check_box_outline_blank:")
            return
        st.markdown(f"**{len(found):,}** test image{'s' * (len(found) != 1)} of class **{names[t]}** predicted as "
                    f"**{names[p]}**, most confident first:")
        thumbnail_grid(predictions, found, lambda i: f"{predictions['confidence'][i]:.0%}")


def thumbnail_grid(predictions: dict, positions: list[int], caption) -> None:
    """Thumbnails of test images (``positions`` in ``predictions``) with ``caption(i)`` under
    each. An old run has no thumbnails: its images are then listed by name."""
    thumbs = predictions.get("thumbs")
    if thumbs is None:
        st.caption("This run has no thumbnails (recorded by an older version): its images by name.")
        st.dataframe(pd.DataFrame({"image": [predictions["ids"][i] for i in positions],
                                   "": [caption(i) for i in positions]}), hide_index=True)
        return
    drawn = [i for i in positions if i < len(thumbs)][:MAX_SHOWN]  # thumbnails stop at the first 2,000 images
    if drawn:
        st.image([thumbs[i] for i in drawn], caption=[caption(i) for i in drawn], width=THUMB_PX)
    if len(drawn) < len(positions):
        st.caption(f"Showing {len(drawn):,} of {len(positions):,}.")


def mistakes_grid(predictions: dict | None) -> None:
    """Every misclassified test image, most confident mistakes first, whatever its cell."""
    if prediction_problem(predictions) is not None or predictions.get("thumbs") is None:
        return
    wrong, names = mistakes(predictions), [str(c) for c in predictions["class_names"]]
    true, pred, confidence = predictions["true"], predictions["pred"], predictions["confidence"]
    st.subheader(f"Misclassified test images ({len(wrong):,} of {len(true):,})")
    st.caption("Most confident mistakes first: these are where to look for label errors or confusable classes.")
    thumbnail_grid(predictions, wrong, lambda i: f"{names[true[i]]} → {names[pred[i]]} ({confidence[i]:.0%})")


# ---- two runs, image by image

def image_changes_section(store, picked: list[list]) -> None:
    """The first two picked runs on the same test images: which images B fixed (wrong in A,
    right in B) and which it broke; why not, when they were tested on other images."""
    if len(picked) < 2:
        return
    st.markdown("#### Image by image: what B changed against A")
    a, b = picked[0][0], picked[1][0]
    if a.group_id or b.group_id:
        st.info("Image by image compares two single runs: a seed group's seeds were each tested on other images. "
                "Pick two runs that are not seed groups.", icon=":material/compare:")
        return
    try:
        pa, pb, diff = compare_runs(store, a.id, b.id)
    except NotComparable as exc:
        st.info(f"A and B cannot be compared image by image: {exc}", icon=":material/compare:")
        return
    more = " (the first two picked)" if len(picked) > 2 else ""
    st.caption(f"A `{a.id}` → B `{b.id}`{more}, on the same {diff.n:,} test images. Under each image: its true "
               "class: A's prediction, B's (B's confidence).")
    for col, (label, positions) in zip(st.columns(4), (("Fixed by B", diff.fixed), ("Broken by B", diff.broken),
                                                        ("Right in both", diff.both_right),
                                                        ("Wrong in both", diff.both_wrong))):
        col.metric(label, f"{len(positions):,}")
    _changed_images(pa, pb, diff)


def _changed_images(a: dict, b: dict, diff) -> None:
    names = [str(c) for c in a["class_names"]]

    def caption(i):
        k = diff.b_position[i]
        return f"{names[a['true'][i]]}: A {names[a['pred'][i]]}, B {names[b['pred'][k]]} ({b['confidence'][k]:.0%})"
    for col, (title, positions) in zip(st.columns(2, gap="large"), (("Fixed by B", diff.fixed),
                                                                   ("Broken by B", diff.broken))):
        with col, st.container(key=f"eval_{title.split()[0].lower()}_images"):
            st.markdown(f"**{title}** ({len(positions):,}), B's most confident first")
            if positions:
                thumbnail_grid(a, positions, caption)  # A's positions, so A's thumbnails
            else:
                st.caption("None.")
