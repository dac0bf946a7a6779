import streamlit as st

from pages.shared.format import gain, percent
from pages.shared.run_picker import pick_run
from pages.shared.setup import page_setup
from tlcore.metrics import classification_metrics
from tlcore.plots import before_after_figure, compare_curves_figure, confusion_figure, per_class_rows
from tlcore.runs.read import MetricsFeed, config_table, list_overviews, target_test_predictions

store = page_setup("Evaluate")
run = pick_run(store) if store is not None else None
if run is None:
    st.info("No run yet. Start one on the Train page; its evaluation appears here as soon as an epoch ends.")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

summary = store.get(run["id"])["summary"] or {}
predictions = target_test_predictions(store, run["id"])
if not summary:  # a running run: the latest epoch's evaluation
    rows = MetricsFeed(store, run["id"]).poll()
    latest = {}
    for r in rows:
        if r["split"] == "target.test":
            latest[f"target.test.{r['name']}"] = r["value"]
    summary = latest
    if predictions:  # per class and confusion matrix of that epoch, from its saved predictions
        details = classification_metrics(predictions["true"], predictions["pred"], predictions["class_names"])
        summary.update({"target.test.per_class": details["per_class"],
                        "target.test.confusion_matrix": details["confusion_matrix"]})
        st.info(f"The run is {run['status']}: these are the scores after epoch {predictions['epoch']}. "
                "The before-transfer baseline appears when it ends.")
if not summary:
    st.info(f"The run is {run['status']} and has not finished an epoch yet.")
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

st.divider()
st.subheader("Compare runs")
runs = list(reversed(list_overviews(store)))
labels = {r["id"]: f"{r['name']} · {r['id']}" for r in runs}
st.session_state.setdefault("eval.compare", [r["id"] for r in runs[:3]])
st.session_state["eval.compare"] = [i for i in st.session_state["eval.compare"] if i in labels]
chosen = st.multiselect("Runs", list(labels), key="eval.compare", format_func=labels.get)
if chosen:
    by_id = {r["id"]: r for r in runs}
    st.dataframe([{"run": i, "name": by_id[i]["name"], "status": by_id[i]["status"],
                   "strategy": by_id[i]["strategy"], "test accuracy": by_id[i]["target.test.accuracy"],
                   "test macro F1": by_id[i]["target.test.macro_f1"],
                   "before transfer": by_id[i]["before.target.test.accuracy"]} for i in chosen],
                 hide_index=True, width="stretch",
                 column_config={k: st.column_config.NumberColumn(format="percent")
                                for k in ("test accuracy", "test macro F1", "before transfer")})
    rows, differ = config_table(store, chosen)
    only_diff = st.toggle("Only settings that differ", value=True, key="ui.only_diff")
    shown_rows = [r for r in rows if r["setting"] in differ] if only_diff else rows
    if shown_rows:
        import pandas as pd
        frame = pd.DataFrame(shown_rows).set_index("setting").astype(str)
        st.dataframe(frame.style.apply(lambda row: ["background-color: #fff3cd" if row.name in differ else ""
                                                    for _ in row], axis=1), width="stretch")
    else:
        st.caption("These runs have the same settings.")
    metric = st.selectbox("Curve", ["accuracy", "macro_f1", "loss"], key="eval.curve")
    curves = {f"{by_id[i]['name']} ({i[-6:]})": MetricsFeed(store, i).poll() for i in chosen}
    st.plotly_chart(compare_curves_figure(curves, "target.val", metric), width="stretch")
