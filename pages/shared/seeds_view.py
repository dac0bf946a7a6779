"""Seed groups on the Evaluate page: the picked run's group as mean ± std, and several runs
or groups compared against seed noise."""
from __future__ import annotations

import string

import streamlit as st

from tlcore.plots import compare_curves_figure
from tlcore.runs import RunRecord, seed_group
from tlcore.runs.read import MetricsFeed, config_table, current_runs
from tlcore.runs.seeds import SCORES, compare_items, group_name, spread, versus_noise

from .format import gain, percent

LABELS = {"accuracy": "Accuracy", "macro_recall": "Macro recall", "macro_f1": "Macro F1"}


def group_section(store, run: RunRecord) -> None:
    """Mean ± std of the target test scores over the finished runs of the picked run's group."""
    group = seed_group(store, run.id)
    if group is None:
        return
    done = group.count("finished")
    st.subheader(f"Seed group: {group_name(group.runs)}")
    if not done:
        st.info(f"{group.progress_text()}. The mean ± std appears when the first seed finishes.")
        return
    cols = st.columns(3)
    for col, name in zip(cols, SCORES):
        after, before = group.scores.get(f"target.test.{name}"), group.scores.get(f"before.target.test.{name}")
        change = gain(after and after.mean, before and before.mean)
        col.metric(f"{LABELS[name]}, mean ± std", after.text(with_n=False) if after else "–",
                   delta=change and f"{change} (before: {before.text(with_n=False)})")
    rest = f" ({group.progress_text()})" if done < group.n else ""
    st.caption(f"Over {done} finished of {group.n} seeds{rest}; ± is the sample standard deviation: how far "
               "another seed would likely land. A seed changes the images drawn, the split, the head's start and "
               "the batch order.")
    with st.expander("Each seed"):
        st.dataframe([{"seed": r.seed, "run": r.id, "status": r.status,
                       **{LABELS[n]: (r.summary or {}).get(f"target.test.{n}") for n in SCORES}}
                      for r in group.runs], hide_index=True, width="stretch",
                     column_config={LABELS[n]: st.column_config.NumberColumn(format="percent") for n in SCORES})


def _label(key: str, runs: list[RunRecord]) -> str:
    if runs[0].group_id:
        return f"{group_name(runs)} · {len(runs)} seeds · group {key}"
    return f"{runs[0].name} · {key}"


def _scores(store, key: str, runs: list[RunRecord]) -> dict:
    """Spreads of the headline scores: a group's over its finished seeds, a lone run's as n=1."""
    if runs[0].group_id:
        return seed_group(store, key).scores
    summary = store.get(key).summary or {}
    out = {}
    for prefix in ("target.test.", "before.target.test."):
        for name in SCORES:
            value = spread([summary.get(prefix + name)]) if summary.get("status") == "finished" else None
            if value is not None:
                out[prefix + name] = value
    return out


def compare_section(store) -> list[list[RunRecord]]:
    """Runs and seed groups side by side: scores (mean ± std for a group), what the first
    one's difference to each other is worth against seed noise, settings and curves.
    Returns the picked entries in order (each a list of runs: a group's, or one)."""
    items = compare_items(list(reversed(current_runs(store))))
    labels = {key: _label(key, runs) for key, runs in items.items()}
    st.session_state.setdefault("eval.compare", list(items)[:3])
    st.session_state["eval.compare"] = [i for i in st.session_state["eval.compare"] if i in labels]
    chosen = st.multiselect("Runs and seed groups", list(labels), key="eval.compare", format_func=labels.get,
                            help="a seed group is one entry: its scores are mean ± std over its finished seeds")
    if not chosen:
        return []
    letters = dict(zip(chosen, string.ascii_uppercase))
    scores = {key: _scores(store, key, items[key]) for key in chosen}

    def cell(key, name):
        s = scores[key].get(name)
        return "–" if s is None else s.text(with_n=False) if s.n > 1 else percent(s.mean)

    st.dataframe([{"": letters[k], "name": group_name(items[k]) if items[k][0].group_id else items[k][0].name,
                   "seeds": _seeds_cell(items[k]), "strategy": items[k][0].config.strategy.name,
                   "test accuracy": cell(k, "target.test.accuracy"), "test macro F1": cell(k, "target.test.macro_f1"),
                   "before transfer": cell(k, "before.target.test.accuracy")} for k in chosen],
                 hide_index=True, width="stretch")
    first = scores[chosen[0]].get("target.test.accuracy")
    for key in chosen[1:]:
        other = scores[key].get("target.test.accuracy")
        if first and other:
            st.caption(versus_noise(other, first, letters[key], letters[chosen[0]]) + " (test accuracy)")
    _settings(store, {items[k][0].id: letters[k] for k in chosen})
    metric = st.selectbox("Curve", ["accuracy", "macro_f1", "loss"], key="eval.curve")
    curves = {}  # in the table's order; a group: its runs' rows, drawn as mean and band
    for k in chosen:
        group = items[k][0].group_id
        label = f"{letters[k]} · {group_name(items[k]) if group else items[k][0].name}"
        curves[label] = [MetricsFeed(store, r.id).poll() for r in items[k]] if group else \
            MetricsFeed(store, k).poll()
    st.plotly_chart(compare_curves_figure(curves, "target.val", metric), width="stretch")
    if any(items[k][0].group_id for k in chosen):
        st.caption("A seed group: its mean, with a band of ±1 std over the seeds that reached the epoch "
                   "(min–max where only two did).")
    return [items[k] for k in chosen]


def _seeds_cell(runs: list[RunRecord]) -> str:
    if not runs[0].group_id:
        return f"1 ({runs[0].status})"
    done = sum(r.status == "finished" for r in runs)
    return f"{done} of {len(runs)} finished"


def _settings(store, letters: dict[str, str]) -> None:
    """The chosen runs' settings, those that differ highlighted (a group: its first seed's);
    ``letters``: run id -> the letter the table above gave it."""
    rows, differ = config_table(store, list(letters))
    only_diff = st.toggle("Only settings that differ", value=True, key="ui.only_diff")
    shown_rows = [r for r in rows if r["setting"] in differ] if only_diff else rows
    if shown_rows:
        import pandas as pd
        frame = pd.DataFrame(shown_rows).set_index("setting").astype(str)
        frame.columns = [f"{letters[c]} · {c}" for c in frame.columns]
        st.dataframe(frame.style.apply(lambda row: ["background-color: #fff3cd" if row.name in differ else ""
                                                    for _ in row], axis=1), width="stretch")
    else:
        st.caption("These runs have the same settings.")
