import pages.shared  # noqa: F401 - first: waits for the server's one-thread preload (see there)
from pathlib import Path

import streamlit as st

from pages.shared import feasibility_view as view
from pages.shared.data_choice import chosen, label_edits_config
from pages.shared.setup import page_setup
from pages.shared.train_form import ON_CPU
from tlcore.backbones import backbone_info, list_backbones
from tlcore.feasibility.job import job_state, read_result, start_feasibility
from tlcore.feasibility.rank import default_candidates

store = page_setup("Feasibility")
st.caption("Before spending hours on training: which pretrained backbone suits these images, how good a model can "
           "get with the labels you have, whether more labels would help, which labels look wrong, and how far the "
           "source is. One click; about half a minute on a CPU for the built-in sets, no fine-tuning.")
target_spec, target_label = chosen("target")
source_spec, source_label = chosen("source")
st.markdown(f"**Data:** target `{target_label}`" + (f", source `{source_label}`" if source_label else ", no source")
            + " (change it on the Data page)")

available = default_candidates()
with st.expander("Settings", expanded=not available):
    names = [n for n in list_backbones() if "imagenet" in backbone_info(n).weight_sources]
    st.session_state.setdefault("feas.backbones", available)
    picked = st.multiselect("Backbones to rank (ImageNet weights)", names, key="feas.backbones",
                            help="Every backbone whose ImageNet weights are on this machine by default; one "
                                 "without them here cannot be ranked")
    c1, c2 = st.columns(2)
    st.session_state.setdefault("feas.per_class", int(st.session_state.get("train.per_class", 100 if ON_CPU else 0)))
    st.session_state.setdefault("feas.image_size", int(st.session_state.get("train.image_size") or 64))
    per_class = c1.number_input("Images per class (0: all)", 0, 100000, key="feas.per_class",
                                help="More images: a surer answer, a longer wait")
    image_size = c2.number_input("Image size (px)", 16, 512, step=16, key="feas.image_size",
                                 help="64 px keeps the check to seconds per backbone on a CPU")
missing = [n for n in picked if n not in available]
if not picked:
    st.warning("Pick at least one backbone to rank.")
    st.stop()
if missing:
    st.warning(f"No ImageNet weights on this machine for {', '.join(missing)}: "
               + "; ".join(backbone_info(n).imagenet_hint for n in missing))
    st.stop()
if store is None:
    st.error("The check keeps its results in the runs folder, which cannot be used.")
    st.stop()

spec = dict(target=target_spec, source=source_spec, backbones=list(picked), weights="imagenet",
            per_class=int(per_class) or None, image_size=int(image_size), seed=0, target_domain=None,
            source_domain=None, label_edits=label_edits_config(target_spec))
if st.button("Run the feasibility check", type="primary", icon=":material/play_arrow:", key="ui.feas_start"):
    st.session_state["feas.folder"] = str(start_feasibility(store.root, spec).folder)
    st.session_state["feas.spec"] = spec
folder = st.session_state.get("feas.folder")
if folder is None:
    st.info("Press the button to check the current data. Nothing is trained and nothing is changed.")
    st.stop()
if st.session_state.get("feas.spec") != spec:
    st.caption("The data, the settings or the label decisions changed since this check: press the button to "
               "check again.")


def _watch(folder: Path) -> None:
    state, detail, fraction = job_state(folder)
    if state != "running":
        st.rerun()
    st.progress(fraction, text=f"{detail}…")


state, detail, _ = job_state(Path(folder))
if state == "running":
    st.fragment(run_every=0.5)(_watch)(Path(folder))
    st.stop()
if state == "failed":
    st.error(f"The check could not run: {detail}")
    st.stop()
report, thumbs = read_result(Path(folder))
if report is None:
    st.warning("The check's result went missing: press the button to run it again.")
    st.stop()

view.verdict_box(report)
view.headline_metrics(report)
if report.get("best_backbone") != st.session_state.get("model.backbone"):
    if st.button(f"Use {report['best_backbone']} on the Model page", key="ui.feas_use_best"):
        st.session_state["model.backbone"] = report["best_backbone"]
        st.session_state["model.weights"], st.session_state["model.weights_choice"] = "imagenet", None
        st.switch_page("pages/model.py")
for warning in report.get("warnings", []):
    st.warning(warning)
tabs = st.tabs(["Suspect labels", "Learning curve", "Backbones", "Domain gap"])
with tabs[0]:
    view.edits_summary(target_spec, target_label)
    view.suspect_review(report, thumbs, target_spec)
with tabs[1]:
    view.curve_panel(report)
with tabs[2]:
    view.ranking_table(report)
with tabs[3]:
    view.gap_panel(report)
st.caption(f"{report['images']:,} images ({report['train_images']:,} training, {report['held_out_images']:,} held "
           f"out) at {report['image_size']} px; took {report['seconds']['total']:.0f} s.")
