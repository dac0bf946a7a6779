import pages.shared  # noqa: F401 - first: waits for the server's one-thread preload (see there)
import streamlit as st

from pages.shared.evaluate_clicks import (cell_section, confusion_chart, image_changes_section, mistakes_grid,
                                          per_class_table)
from pages.shared.export_view import bundle_download
from pages.shared.format import gain, percent
from pages.shared.gradcam_view import gradcam_section
from pages.shared.identity import current_actor
from pages.shared.replay_view import replay_note, rerun_button
from pages.shared.run_picker import pick_run
from pages.shared.seeds_view import compare_section, group_section
from pages.shared.setup import page_setup
from pages.shared.verdict_view import adaptation_verdict
from tlcore.backbones import WeightsError
from tlcore.metrics import classification_metrics
from tlcore.plots import before_after_figure
from tlcore.predict import MIRROR_SENSITIVE_DOMAINS, NoCheckpoint, TTAUnavailable, evaluate_with_tta
from tlcore.runs import RunStoreError
from tlcore.runs.read import MetricsFeed, target_test_predictions
from tlcore.runs.reference import (scratch_reference, scratch_reference_pending, submit_scratch_reference,
                                   trains_from_scratch)

SCORES = (("accuracy", "Accuracy"), ("macro_recall", "Macro recall"), ("macro_f1", "Macro F1"))
WHY_SCRATCH = ("**Before transfer** is a linear probe on the pretrained features, untrained: it says how good "
               "the features are, not what you would get without them. A **from-scratch reference** trains this "
               "backbone from random weights on the same data, seed and number of epochs, so the gain over it is "
               "what transfer bought you. It is queued like any run.")
TTA_HELP = ("Scores the test split twice with this run's weights: as trained, and averaging each image's predicted "
            "probabilities with those of its mirror image (left-right). An evaluation option, not a new model; it "
            "costs about twice the time. Measured on small runs (BENCHMARKS.md): +1 to +2 points on clip-art and "
            "Fashion-MNIST, within seed noise. It only makes sense where a mirrored image is still the same class: "
            "on digits or text a mirrored image is another thing (a mirrored 2 is no digit), and on digits it "
            "gained nothing.")


def scratch_section(store, run, summary: dict) -> None:
    """Beside before transfer: the same backbone trained from scratch on the same data, with
    the gain of transfer over it, or a button that queues one."""
    if trains_from_scratch(run.config):
        st.caption("This run trains from scratch: it is the reference a transfer run on the same data is held to.")
        return
    reference = scratch_reference(store, run)
    if reference is None:
        pending = scratch_reference_pending(store, run)
        if pending is not None:
            st.info(f"From-scratch reference `{pending.name}` is {pending.status} (`{pending.id}`): the gain of "
                    "transfer over it appears here when it finishes.", icon=":material/hourglass_top:")
            return
        text, button = st.columns([3, 1], vertical_alignment="center")  # wide enough for the label
        text.caption(WHY_SCRATCH)
        if button.button("Run a from-scratch reference", key="ui.scratch_reference", icon=":material/science:",
                         width="stretch"):
            try:
                submit_scratch_reference(store, run, owner=current_actor().name)
            except (RunStoreError, ValueError) as exc:
                st.error(f"The reference could not be queued: {exc}")
                return
            st.rerun()  # drawn again: now as a queued reference
        return
    for col, (key, label) in zip(st.columns(3), SCORES):
        after, scratch = summary.get(f"target.test.{key}"), reference.score(f"target.test.{key}")
        change = gain(after, scratch)
        col.metric(f"From scratch · {label}", percent(scratch), delta=change and f"{change} with transfer")
    epochs, own = reference.config.schedule.epochs, run.config.schedule.epochs
    st.caption(f"From scratch: run `{reference.name}` (`{reference.id}`), random weights, nothing frozen, same data "
               f"and seed, " + (f"the same {epochs} epochs." if epochs == own else
                                f"{epochs} epochs (this run: {own}).")
               + " The delta is what transfer bought over not transferring at all, at an equal training budget: "
               "a network from scratch usually needs many more epochs to reach its best.")


@st.cache_data(max_entries=8, show_spinner=False)
def tta_scores(run_id: str, folder: str, stamp: float) -> dict:  # stamp: the checkpoint's mtime
    return evaluate_with_tta(folder, "last")


def tta_section(run, summary: dict) -> None:
    """The run's test split scored without and with flip TTA, side by side."""
    if not st.toggle("Test-time augmentation (flip)", key="eval.tta", help=TTA_HELP):
        return
    if run.live:
        st.info("Test-time augmentation is evaluated once the run has ended (its weights still change).")
        return
    checkpoint = run.files.checkpoint("last")
    try:
        with st.spinner("Scoring the test split without and with flip TTA…"):
            result = tta_scores(run.id, str(run.folder), checkpoint.stat().st_mtime if checkpoint else 0.0)
    except (NoCheckpoint, WeightsError, TTAUnavailable, ValueError, OSError) as exc:
        st.info(f"Test-time augmentation could not be evaluated: {exc}")
        return
    none, flip = result["none"], result["flip"]
    cols = st.columns(4)
    cols[0].metric("Accuracy · no TTA", percent(none["accuracy"]))
    cols[1].metric("Accuracy · flip TTA", percent(flip["accuracy"]), delta=gain(flip["accuracy"], none["accuracy"]))
    cols[2].metric("Macro F1 · no TTA", percent(none["macro_f1"]))
    cols[3].metric("Macro F1 · flip TTA", percent(flip["macro_f1"]), delta=gain(flip["macro_f1"], none["macro_f1"]))
    seconds = result["seconds"]
    recorded = summary.get("target.test.accuracy")
    same = recorded is not None and abs(recorded - none["accuracy"]) < 1e-9
    ratio = f" ({seconds['flip'] / seconds['none']:.1f}x)" if seconds["none"] > 0 else ""
    st.caption(f"The same model (the run's last-epoch weights) on its {result['n']:,} target test images, scored "
               f"two ways; flip TTA took {seconds['flip']:.2f} s against {seconds['none']:.2f} s{ratio}. The run and "
               "its recorded scores are unchanged" + ("." if same or recorded is None else
                              f"; note: without TTA it now scores {percent(none['accuracy'])}, the run recorded "
                              f"{percent(recorded)} (the data or code changed since)."))
    if run.config.data.target in MIRROR_SENSITIVE_DOMAINS:
        st.warning("These are digits: a mirrored digit is not the same digit, so flipping is the wrong augmentation "
                   "here (measured on syndigits: no gain). Read any difference above as noise.", icon=":material/flip:")


store = page_setup("Evaluate")
run = pick_run(store) if store is not None else None
if run is None:
    st.info("No run yet. Start one on the Train page; its evaluation appears here as soon as an epoch ends.")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

rerun_button(store, run)
replay_note(store, run)

summary = store.get(run.id).summary or {}
predictions = target_test_predictions(store, run.id)
if not summary:  # a running run: the latest epoch's evaluation
    rows = MetricsFeed(store, run.id).poll()
    latest = {}
    for r in rows:
        if r["split"] == "target.test":
            latest[f"target.test.{r['name']}"] = r["value"]
    summary = latest
    if predictions:  # per class and confusion matrix of that epoch, from its saved predictions
        details = classification_metrics(predictions["true"], predictions["pred"], predictions["class_names"])
        summary.update({"target.test.per_class": details["per_class"],
                        "target.test.confusion_matrix": details["confusion_matrix"]})
        st.info(f"The run is {run.status}: these are the scores after epoch {predictions['epoch']}. "
                "The before-transfer baseline appears when it ends.")
if not summary:
    st.info(f"The run is {run.status} and has not finished an epoch yet.")
    st.stop()

st.subheader("Target test set: before vs after transfer")
cols = st.columns(3)
for col, (key, label) in zip(cols, SCORES):
    after, before = summary.get(f"target.test.{key}"), summary.get(f"before.target.test.{key}")
    change = gain(after, before)
    col.metric(label, percent(after), delta=change and f"{change} (before: {percent(before)})")
if summary.get("before.method"):
    st.caption(f"Before transfer: {summary['before.method']}.")
adaptation_verdict(summary, "eval")
if run.status == "finished":
    scratch_section(store, run, summary)
group_section(store, run)
st.plotly_chart(before_after_figure(summary), width="stretch")
tta_section(run, summary)

class_names = (predictions or {}).get("class_names") or summary.get("class_names") or []
left, right = st.columns(2, gap="large")
with left:
    st.subheader("Per class")
    per_class_table(summary)
with right:
    chosen = confusion_chart(run.id, summary, predictions, class_names)
cell_section(run.id, predictions, chosen)
mistakes_grid(predictions)

gradcam_section(run, predictions)
st.subheader("Export")
bundle_download(run)

st.divider()
st.subheader("Compare runs")
image_changes_section(store, compare_section(store))
