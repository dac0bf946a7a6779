
import pages.shared  # noqa: F401 - first: waits for the server's one-thread preload (see there)
import streamlit as st

from pages.shared.capture_view import camera_shot
from pages.shared.gradcam_view import gradcam_for_uploads
from pages.shared.run_picker import pick_run
from pages.shared.setup import page_setup
from tlcore.backbones import WeightsError
from tlcore.predict import MIRROR_SENSITIVE_DOMAINS, NoCheckpoint, Predictor

store = page_setup("Predict")
st.caption("Drop in new images and see what a trained run predicts, with its best checkpoint "
           "(the epoch with the best validation score).")
run = pick_run(store, only=lambda r: r.status != "queued") if store is not None else None
if run is None:
    st.info("No trained run yet. Train one first; a checkpoint is saved after every epoch.")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()


@st.cache_resource(max_entries=2, show_spinner="Loading the run's checkpoint…")
def predictor(folder: str, stamp: float) -> Predictor:  # stamp: reload when a newer checkpoint is saved
    return Predictor(folder)


checkpoint = run.files.checkpoint("best")  # the one Predictor loads: best, else last
try:
    model = predictor(str(run.folder), checkpoint.stat().st_mtime if checkpoint is not None else 0.0)
except (NoCheckpoint, WeightsError, ValueError, OSError) as exc:
    st.warning(f"This run cannot predict yet: {exc}")
    st.stop()
st.caption(f"{len(model.class_names)} classes: {', '.join(model.class_names[:20])}"
           + ("…" if len(model.class_names) > 20 else ""))
k = st.slider("Top classes to show", 1, min(10, len(model.class_names)), min(3, len(model.class_names)),
              key="ui.topk")
explain = st.toggle("Show what the model looks at", key="ui.predict_gradcam",
                    help="A Grad-CAM heat map of each image's top class: where the evidence for it lies.")
flip = st.checkbox("Flip TTA", key="ui.predict_tta",
                   help="Test-time augmentation: average each image's probabilities with those of its mirror image "
                        "(left-right). About twice the time; measured: +1 to +2 points on clothing photos and "
                        "drawings, nothing on digits, where a mirrored image is another thing.")
if flip and run.config.data.target in MIRROR_SENSITIVE_DOMAINS:
    st.caption(":orange[This run was trained on digits: a mirrored digit is not the same digit, so flipping is the "
               "wrong augmentation here (measured: no gain).]")
files = st.file_uploader("Images", accept_multiple_files=True, key="ui.predict_files",
                         type=["jpg", "jpeg", "png", "bmp", "gif", "webp", "tif", "tiff"])
shot = camera_shot("ui.predict_camera", "Take a picture to classify")
items = ([("camera shot", shot.getvalue())] if shot is not None else []) + [(f.name, f.getvalue()) for f in files]
if items:
    with st.spinner("Predicting…"):
        results = model.predict_files(items[:64], k, tta="flip" if flip else "none")
    if len(items) > 64:
        st.warning(f"Only the first 64 of {len(items)} images were classified.")
    heat = gradcam_for_uploads(model, results) if explain else [None] * len(results)
    for result, painted in zip(results, heat):
        cols = st.columns([1, 1, 3] if explain else [1, 4])  # image, [heat map,] classes
        c1, c2 = cols[0], cols[-1]
        if result["error"]:
            c1.markdown(f"**{result['file']}**")
            c2.error(f"Not classified: {result['error']}")
            continue
        c1.image(result["image"], width=120)  # the decoded pixels, never the raw upload
        if painted is not None:
            cols[1].image(painted, width=120, caption=f"evidence for {result['top'][0][0]}")
        c2.markdown(f"**{result['file']}** → **{result['top'][0][0]}** ({result['top'][0][1]:.0%})")
        c2.dataframe([{"class": c, "probability": p} for c, p in result["top"]], hide_index=True,
                     column_config={"probability": st.column_config.ProgressColumn(format="percent", min_value=0,
                                                                                  max_value=1)})
