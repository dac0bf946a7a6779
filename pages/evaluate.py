import pages.shared  # noqa: F401 - first: waits for the server's one-thread preload (see there)
import streamlit as st

from pages.shared.export_view import bundle_download
from pages.shared.format import gain, percent
from pages.shared.gradcam_view import gradcam_section
from pages.shared.replay_view import replay_note, rerun_button
from pages.shared.run_picker import pick_run
from pages.shared.seeds_view import compare_section, group_section
from pages.shared.setup import page_setup
from tlcore.metrics import classification_metrics
from tlcore.plots import before_after_figure, confusion_figure, per_class_rows
from tlcore.runs.read import MetricsFeed, target_test_predictions

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
for col, (key, label) in zip(cols, (("accuracy", "Accuracy"), ("macro_recall", "Macro recall"),
                                    ("macro_f1", "Macro F1"))):
    after, before = summary.get(f"target.test.{key}"), summary.get(f"before.target.test.{key}")
    change = gain(after, before)
    col.metric(label, percent(after), delta=change and f"{change} (before: {percent(before)})")
if summary.get("before.method"):
    st.caption(f"Before transfer: {summary['before.method']}.")
group_section(store, run)
st.plotly_chart(before_after_figure(summary), width="stretch")

class_names = (predictions or {}).get("class_names") or summary.get("class_names") or []
left, right = st.columns(2, gap="large")
with left:
    st.subheader("Per class")
    per_class = per_class_rows(summary)
    pct = st.column_config.NumberColumn(format="percent")
    st.dataframe(per_class, hide_index=True, width="stretch",
                 column_config={"precision": pct, "recall": pct, "F1": pct})
with right:
    matrix = summary.get("target.test.confusion_matrix")
    if matrix is not None:
        normalise = st.toggle("Share of each true class", key="eval.normalise")
        st.plotly_chart(confusion_figure(matrix, class_names, normalise), width="stretch")

if predictions and predictions.get("thumbs") is not None:
    wrong = [i for i, (t, p) in enumerate(zip(predictions["true"], predictions["pred"])) if t != p
             and i < len(predictions["thumbs"])]
    wrong.sort(key=lambda i: -predictions["confidence"][i])
    st.subheader(f"Misclassified test images ({len(wrong):,} of {len(predictions['true']):,})")
    st.caption("Most confident mistakes first: these are where to look for label errors or confusable classes.")
    shown = wrong[:40]
    grid = st.columns(8)
    for k, i in enumerate(shown):
        t, p, c = predictions["true"][i], predictions["pred"][i], predictions["confidence"][i]
        grid[k % 8].image(predictions["thumbs"][i], width=72,
                          caption=f"{class_names[t]} → {class_names[p]} ({c:.0%})")

gradcam_section(run, predictions)
st.subheader("Export")
bundle_download(run)

st.divider()
st.subheader("Compare runs")
compare_section(store)
