"""The Learn page's parts: a lesson's figures drawn from a run folder (the stored result
under assets/lessons/ or the user's own run: the same files, the same code), its "run it
yourself" button, and the comparison of every lesson at the end."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from pages.shared.format import duration, percent, status_badge
from pages.shared.identity import current_actor
from tlcore.embed.snapshots import coordinates, read_probe, read_snapshots
from tlcore.lessons import Lesson, LessonResult, freeze_rows, read_result, weight_spread
from tlcore.plots import before_after_figure, feature_map_figure, freeze_map_figure, gap_figure, weights_figure
from tlcore.plots.training import discriminator_figure
from tlcore.run_folder import RunFolder
from tlcore.run_record import LIVE
from tlcore.runs import RunStoreError, submit
from tlcore.runs.read import MetricsFeed, progress

LESSONS_DIR = Path(__file__).resolve().parents[2] / "assets" / "lessons"
CHART = {"displayModeBar": False}


def stored_folder(key: str) -> RunFolder:
    return RunFolder(LESSONS_DIR / key)


@st.cache_data(show_spinner=False)
def reference() -> dict | None:
    """The same methods over 3 seeds (benchmarks/learn_results.py copies them from BENCHMARKS.json)."""
    try:
        return json.loads((LESSONS_DIR / "reference.json").read_text())
    except (OSError, ValueError):
        return None


def own_run(store, lesson: Lesson):
    """This session's newest run of the lesson (found again after a refresh), or None."""
    if store is None:
        return None
    name, owner = lesson.config().name, current_actor().name
    mine = [r for r in store.list_runs() if r.name == name and r.owner == owner]
    return max(mine, key=lambda r: r.created) if mine else None


def lesson_section(store, number: int, lesson: Lesson) -> LessonResult | None:
    """One lesson: the idea, its figure and scores (the user's run when it finished, else the
    stored one), "run it yourself", the papers. Returns the result shown."""
    st.header(f"{number}. {lesson.kind}: {lesson.title}", anchor=lesson.key)
    st.markdown(lesson.idea)
    mine = own_run(store, lesson)
    folder, whose = stored_folder(lesson.key), "stored result (seed 0, trained on 2 CPU cores)"
    if mine is not None and mine.status == "finished":
        choice = st.segmented_control("Show", ["your run", "stored result"], default="your run",
                                      key=f"ui.learn_show_{lesson.key}")
        if choice != "stored result":
            folder, whose = mine.files, f"your run {mine.id}"
    result = read_result(lesson.key, folder)
    if result is None:
        st.warning(f"The stored result of this lesson is missing from {LESSONS_DIR} (make it with "
                   "`python -m benchmarks.learn_results`). Run it yourself below.")
    else:
        draw_result(lesson, folder, result, whose)
    run_yourself(store, lesson, mine)
    st.caption("Papers: " + " · ".join(lesson.papers))
    return result


def draw_result(lesson: Lesson, folder: RunFolder, result: LessonResult, whose: str) -> None:
    left, right = st.columns([3, 2], gap="large")
    with left:
        FIGURES[lesson.key](folder)
        st.caption(lesson.look)
    with right:
        bars = before_after_figure(folder.summary())
        # A third of the page wide: no room for a title beside the legend; the legend says it.
        bars.update_layout(title=None, legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"))
        st.plotly_chart(bars, width="stretch", config=CHART, key=f"ui.learn_bars_{lesson.key}")
        st.markdown(verdict_text(lesson, result))
        st.caption(f"Shown: {whose}, {result.epochs} epochs in {duration(result.wall_s)}. Before: {lesson.baseline}.")
        reference_note(lesson.key)


def verdict_text(lesson: Lesson, result: LessonResult) -> str:
    change, verdict = result.change(), result.verdict()
    text = (f"Target test accuracy {percent(result.before['accuracy'])} → {percent(result.after['accuracy'])} "
            f"(**{change:+.1f} points**), macro F1 {percent(result.before['macro_f1'])} → "
            f"{percent(result.after['macro_f1'])}.")
    if verdict == "hurt":
        return f":red[**It hurt here.**] {text} The model without {lesson.kind.lower()} was better."
    if verdict == "no change":
        return f"**No real change** (within a point, the noise of 150 test images). {text}"
    return f":green[**It helped.**] {text}"


def reference_note(key: str) -> None:
    method = reference_method(key)
    if method is None:
        return
    ref = reference()
    text = f"Over {method['seeds']} seeds, same settings: {method['mean']:.1%} ± {method['std']:.1%}"
    if key != "model" and method.get("vs_source_only") is not None:
        text += (f", {method['vs_source_only']:+.1f} ± {method['vs_source_only_std']:.1f} points against the same "
                 f"network fine-tuned on the source alone ({ref['methods']['source only']['mean']:.1%})")
    st.caption(text + f" (BENCHMARKS.md, `{ref['command']}`).")


def reference_method(key: str) -> dict | None:
    ref = reference()
    if not ref or ref["lessons"].get(key) not in ref["methods"]:
        return None
    return ref["methods"][ref["lessons"][key]]


# ---- the figure of each lesson


def instance_figure(folder: RunFolder) -> None:
    probe, snapshots = read_probe(folder.snapshots), read_snapshots(folder.snapshots)
    weights = (folder.artifact("instance_weights.json") or {}).get("weights")
    if not probe or not snapshots or not weights:
        st.info("This run has no feature map or instance weights to show.")
        return
    xy, _ = coordinates(snapshots[0])
    st.plotly_chart(feature_map_figure(xy, probe, snapshots[0].get("pred"), "domain",
                                       "Pretrained features: source points sized by their weight"),
                    width="stretch", config=CHART, key="ui.learn_instance_map")
    spread, gap = weight_spread(weights), snapshots[0].get("gap") or {}
    if spread["max"] < 1.5 * spread["min"]:  # all about the same: say why rather than show a flat histogram
        st.info(f"Here every source image got about the same weight ({spread['min']:.2f} to {spread['max']:.2f}; "
                f"{spread['effective']:,.0f} of {spread['images']:,} images count fully). On these features a "
                "domain classifier tells MNIST from printed digits almost perfectly (proxy A-distance "
                f"{gap.get('a_distance', float('nan')):.2f} of 2), so no source image looks target-like and "
                "weighting has nothing to choose between: the domains do not overlap, which is what instance "
                "weighting needs.")
    else:
        st.plotly_chart(weights_figure(weights), width="stretch", config=CHART, key="ui.learn_weights")


def feature_figure(folder: RunFolder) -> None:
    snapshots = [s for s in read_snapshots(folder.snapshots) if s.get("gap")]
    if not snapshots:
        st.info("The gap numbers of this run are not computed yet (they follow its UMAP layouts).")
        return
    st.plotly_chart(gap_figure(snapshots), width="stretch", config=CHART, key="ui.learn_gap")
    first, last = snapshots[0]["gap"], snapshots[-1]["gap"]
    knn = (f", k-NN accuracy of the target's classes {first['knn_target']:.0%} → {last['knn_target']:.0%}"
           if first.get("knn_target") is not None and last.get("knn_target") is not None else "")
    st.markdown(f"From epoch {snapshots[0]['epoch']} to {snapshots[-1]['epoch']}: MMD² {first['mmd']:.2f} → "
                f"{last['mmd']:.2f}, proxy A-distance {first['a_distance']:.2f} → {last['a_distance']:.2f}{knn}.")


@st.cache_data(show_spinner=False)
def _freeze_map(config_json: str):
    from tlcore.config import RunConfig
    return freeze_rows(RunConfig.from_json(config_json))


def model_figure(folder: RunFolder) -> None:
    rows, share = _freeze_map(folder.config().to_json())
    st.metric("Trainable share of the network", percent(share),
              help=f"freeze plan {folder.config().model.freeze}: the stages before the last two keep their "
                   "ImageNet weights")
    st.plotly_chart(freeze_map_figure(rows), width="stretch", config=CHART, key="ui.learn_freeze")


def adversarial_figure(folder: RunFolder) -> None:
    figure = discriminator_figure(folder.metric_rows())
    if figure is None:
        st.info("This run recorded no discriminator numbers.")
        return
    st.plotly_chart(figure, width="stretch", config=CHART, key="ui.learn_dann")


FIGURES = {"instance": instance_figure, "feature": feature_figure, "model": model_figure,
           "adversarial": adversarial_figure}


# ---- run it yourself


def run_yourself(store, lesson: Lesson, mine) -> None:
    if store is None:
        return
    if mine is not None and mine.status in LIVE:
        st.fragment(run_every=1.0)(_watch)(store, mine.id)
        return
    if mine is not None and mine.status == "failed":
        st.warning(f"Your run {mine.id} failed: {mine.error or 'no reason recorded'}", icon=":material/error:")
    left, right = st.columns([1, 3], vertical_alignment="center")
    label = "Run it again" if mine is not None else "Run it yourself"
    cfg = lesson.config()
    if left.button(label, key=f"ui.learn_start_{lesson.key}", icon=":material/play_arrow:"):
        try:
            submit(store, cfg, cfg.name, owner=current_actor().name)
        except RunStoreError as exc:
            st.error(f"The run could not start: {exc}")
            return
        st.rerun()
    right.caption(f"The same settings here: {cfg.strategy.name}, {cfg.data.per_class} images a class, "
                  f"{cfg.data.image_size} px, the last two stages trained, {cfg.schedule.epochs} epochs "
                  "(about a minute on a CPU)." + (f" Your last run: {status_badge(mine.status)}." if mine else ""))


def _watch(store, run_id: str) -> None:
    run = store.get(run_id)
    if run.status not in LIVE:
        st.rerun(scope="app")  # finished: draw the lesson from the user's run
    p = progress(MetricsFeed(store, run_id).poll(), run.status)
    st.progress(p.fraction, text=f"Your run {status_badge(run.status)} · epoch {p.epoch} of {p.epochs or '?'}"
                                 + (f" · about {duration(p.eta_s)} left" if p.eta_s else ""))
    st.page_link("pages/train.py", label="Watch it live on the Train page", icon=":material/monitoring:",
                 query_params={"run": run_id})


# ---- all lessons side by side


def comparison(results: dict[str, LessonResult], titles: dict[str, str]) -> None:
    from tlcore.lessons import comparison_rows
    from tlcore.plots import lessons_figure
    rows = comparison_rows(list(results.values()), titles)
    if not rows:
        st.info("No lesson has a result to compare yet.")
        return
    st.plotly_chart(lessons_figure(rows), width="stretch", config=CHART, key="ui.learn_compare")
    hurt = [r["lesson"] for r in rows if r["verdict"] == "hurt"]
    same = [r["lesson"] for r in rows if r["verdict"] == "no change"]
    lines = []
    if hurt:
        lines.append(f":red[**Where it hurt:**] {', '.join(hurt)}: the adapted model scored below the model "
                     "without adaptation. Without target labels nothing on the training curves warns you; the "
                     "Train and Evaluate pages compare every adaptation run with its source-only twin for this.")
    if same:
        lines.append(f"**No real change:** {', '.join(same)}.")
    lines.append("One seed on 150 test images moves by a few points from seed to seed. "
                 + seeds_sentence({key: titles.get(key, key) for key in results}))
    st.markdown("\n\n".join(lines))
    st.dataframe([table_row(key, row) for key, row in zip(results, rows)], hide_index=True, width="stretch")


def seeds_sentence(titles: dict[str, str]) -> str:
    """Which adaptation lessons beat source only over 3 seeds by more than their spread (±1 std)."""
    clear, unclear = [], []
    for key, title in titles.items():
        method = reference_method(key) or {}
        vs, std = method.get("vs_source_only"), method.get("vs_source_only_std")
        if key == "model" or vs is None or std is None:
            continue
        (clear if vs - std > 0 else unclear).append(f"{title} {vs:+.1f} ± {std:.1f}")
    if not clear and not unclear:
        return ""
    return ("Over 3 seeds against source only (BENCHMARKS.md): " + (f"clearly better: {', '.join(clear)}" if clear
            else "none clearly better") + (f"; within the seeds' spread: {', '.join(unclear)}." if unclear else "."))


def table_row(key: str, row: dict) -> dict:
    """A comparison row as people read it, with the 3-seed mean of the same method beside it."""
    method = reference_method(key) or {}
    vs = method.get("vs_source_only")
    return {"lesson": row["lesson"], "before": percent(row["before"]), "after": percent(row["after"]),
            "change (points)": f"{row['change (points)']:+.1f}", "this run": row["verdict"],
            "3 seeds: after": f"{method['mean']:.1%} ± {method['std']:.1%}" if method else "–",
            "3 seeds: vs source only (points)": f"{vs:+.1f} ± {method['vs_source_only_std']:.1f}"
            if vs is not None and key != "model" else "–"}
