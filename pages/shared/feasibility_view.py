"""The Feasibility page's pieces: the verdict, the ranking, the curve, the suspect-label review.
Everything is drawn from the job's report (tlcore.feasibility.job); nothing is computed here."""
from __future__ import annotations

import numpy as np
import streamlit as st

from tlcore.feasibility.curve import LearningCurve
from tlcore.plots.feasibility import learning_curve_figure

from .data_choice import label_edits_for, set_label_edits
from .feature_map_view import gap_metrics

LEVEL_BOX = {"good": st.success, "promising": st.info, "hard": st.warning}
KEEP, DROP = "keep", "drop"


def verdict_box(report: dict) -> None:
    v = report["verdict"]
    LEVEL_BOX.get(v["level"], st.info)("**" + v["headline"] + "**\n\n" + "\n".join(f"- {a}" for a in v["actions"]))


def headline_metrics(report: dict) -> None:
    curve = report["curve"]
    twice = (curve.get("predictions") or [None])[0]
    gap = report.get("domain_gap")
    cols = st.columns([1.6, 1, 1, 1, 1] if gap else [1.6, 1, 1, 1])  # backbone names are long
    cols[0].metric("Best backbone", report["best_backbone"], help="First by LogME of the candidates ranked below")
    cols[1].metric("Accuracy now", f"{curve['accuracy']:.0%}",
                   help="A linear head on the frozen features, trained on the training split and scored on the "
                        "held-out images (validation + test): a floor for what fine-tuning reaches")
    if twice:
        cols[2].metric("With 2x the labels", f"{twice['accuracy']:.0%}",
                       delta=f"{(twice['accuracy'] - curve['accuracy']) * 100:+.0f} pts",
                       help=f"Power-law extrapolation; {curve['level']:.0%} range "
                            f"{twice['low']:.0%}-{twice['high']:.0%}")
    else:
        cols[2].metric("With 2x the labels", "n/a", help=curve["sentence"])
    cols[3].metric("Suspect labels", f"{len(report['suspects']):,}",
                   delta=f"{report['confident_suspects']} confident", delta_color="off", delta_arrow="off",
                   help="Images whose label the out-of-fold head disagrees with (cleanlab confident learning); "
                        "confident: another class at 90% or more")
    if gap:
        cols[4].metric("Domain gap", f"{gap['a_distance']:.2f}", help="Proxy A-distance: 0, the network "
                       "cannot tell source from target images; 2, it always can")


def ranking_table(report: dict) -> None:
    rows = [{"rank": i, "backbone": r["backbone"], "weights": r["weights"], "LogME": r["logme"],
             "H-score": r["h_score"], "probe accuracy (5-fold)": r["probe_accuracy"],
             "feature s": r["seconds_features"], "scoring s": r["seconds_scoring"]}
            for i, r in enumerate(report["ranking"], 1)]
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "LogME": st.column_config.NumberColumn(format="%.4f", help="Evidence of a linear model on the features "
                                               "(You et al., 2021): higher transfers better"),
        "H-score": st.column_config.NumberColumn(format="%.3f", help="Regularised H-score: class separation"),
        "probe accuracy (5-fold)": st.column_config.NumberColumn(format="percent"),
        "feature s": st.column_config.NumberColumn(format="%.1f", help="Building the model and passing every "
                                                   "target image through it once"),
        "scoring s": st.column_config.NumberColumn(format="%.2f")})
    n = report["ranking"][0]["n_images"] if report["ranking"] else 0
    st.caption(f"Scored on the {n:,} images of the training split, without any fine-tuning. On the built-in sets "
               "LogME put the backbones in the order a short fine-tune did (BENCHMARKS.md), but with two "
               "candidates that proves little: treat close scores as a tie.")


def curve_panel(report: dict) -> None:
    curve = LearningCurve.from_dict(report["curve"])
    st.markdown(curve.sentence)
    st.plotly_chart(learning_curve_figure(curve), width="stretch")
    st.caption(f"A linear head on frozen {report['best_backbone']} features, 3 seeds per point, scored on "
               f"{report['held_out_images']:,} held-out images. Checked on Fashion-MNIST: predictions at 2x and 5x "
               "were off by 0.3-1.3 points on average (BENCHMARKS.md); the range leaves out the noise of a small "
               "held-out set.")


PER_PAGE = 18  # suspects a page of the review grid: three rows of six


def suspect_review(report: dict, thumbs: np.ndarray | None, target_spec: str) -> None:
    """The suspects, most suspect first, each with its picture and a keep / drop / relabel
    choice; a choice is recorded for this target at once and applies to runs started later.
    No bulk "accept all": even the confident flags were mostly right labels in the check."""
    suspects = report["suspects"]
    if not suspects:
        st.success("No label looks wrong to the confident-learning check.")
        return
    shown = suspects[:len(thumbs) if thumbs is not None else 0]
    st.markdown(f"**{len(suspects):,} images flagged**, {report['confident_suspects']} of them confidently (another "
                f"class at 90% or more). The head behind the check is right on {report['out_of_fold_accuracy']:.0%} "
                "of the images out of fold, so many flags are hard images rather than wrong labels: with 5% of labels "
                "flipped on purpose, 13-25% of all flags and 20-36% of the confident ones were the flipped labels "
                "(BENCHMARKS.md). Look at each picture before you decide.")
    if not shown:
        return
    pages = list(range(1, (len(shown) - 1) // PER_PAGE + 2))
    st.session_state.setdefault("feas.suspect_page", 1)
    if st.session_state["feas.suspect_page"] not in pages:
        st.session_state["feas.suspect_page"] = 1
    if len(pages) > 1:
        st.segmented_control(f"Most suspect first ({len(shown)} of {len(suspects)} listed), page", pages,
                             key="feas.suspect_page")
    page = st.session_state["feas.suspect_page"] or 1
    edits = label_edits_for(target_spec)
    actions = [KEEP, DROP, *(f"relabel as {c}" for c in report["class_names"])]
    grid = st.columns(6)
    first = (page - 1) * PER_PAGE
    for k, s in enumerate(shown[first:first + PER_PAGE]):
        item_id = s["item_id"]
        current = DROP if item_id in edits.drops else \
            f"relabel as {edits.relabels[item_id]}" if item_id in edits.relabels else KEEP
        with grid[k % 6]:
            st.image(thumbs[first + k], width=96)
            st.caption(f"#{first + k + 1} `{item_id}`  \nlabelled **{s['given_name']}**, looks like "
                       f"**{s['suggested_name']}** ({s['suggested_confidence']:.0%})")
            key = f"ui.feas_edit.{item_id}"
            st.session_state[key] = current  # the recorded decision, also after a page change
            st.selectbox("Decision", actions, key=key, label_visibility="collapsed",
                         on_change=_record, args=(target_spec, item_id, key))


def _record(target_spec: str, item_id: str, key: str) -> None:
    edits = label_edits_for(target_spec)
    decision = st.session_state[key]
    if decision == DROP:
        edits.drop(item_id)
    elif decision.startswith("relabel as "):
        edits.relabel(item_id, decision.removeprefix("relabel as "))
    else:
        edits.undo(item_id)
    set_label_edits(target_spec, edits)


def edits_summary(target_spec: str, target_label: str) -> None:
    edits = label_edits_for(target_spec)
    if not len(edits):
        return
    st.info(f"**{len(edits)} label decision{'s' if len(edits) != 1 else ''} recorded for `{target_label}`**: "
            f"{len(edits.drops)} dropped, {len(edits.relabels)} relabelled. Runs started from now on train and "
            "test without the dropped images and with the new labels (each run's config.json records them); "
            "the image files are untouched.", icon=":material/edit_note:")
    c1, c2 = st.columns(2)
    c1.download_button("Download the decisions (JSON)", edits.to_json(), file_name="label_edits.json",
                       mime="application/json", key="ui.feas_download_edits")
    if c2.button("Undo all decisions", key="ui.feas_undo_all"):
        set_label_edits(target_spec, None)
        st.rerun()


def gap_panel(report: dict) -> None:
    gap = report.get("domain_gap")
    if not gap:
        st.caption("No source set chosen: choose one on the Data page to see how far it is from the target.")
        return
    gap_metrics({"gap": gap})
    st.caption(f"Features of {report['best_backbone']} before any training, on up to 300 images per domain "
               "(the Data page shows the same numbers with the map).")
