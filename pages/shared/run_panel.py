"""The live view of one run: status, progress with ETA, curves, freeze map, Stop/Resume;
for a run of a seed group, the group's progress and its mean curve with a band.

Redrawn from the run store by a fragment every second while the run is active, without
rerunning the page around it; when the run ends the page reruns once and polling stops.
"""
from __future__ import annotations

import time

import streamlit as st

from tlcore.plots import curve_figures, freeze_timeline_figure, group_curve_figure, weights_figure
from tlcore.run_record import ACTIVE, ENDED, LIVE
from tlcore.runs import resume, seed_group, stop
from tlcore.runs.owners import NotOwnerError, can_manage
from tlcore.runs.read import MetricsFeed, instance_weights, progress, waiting_for_slot
from tlcore.runs.scheduler import log_tail
from tlcore.train.trunk import describe_record

from .format import duration, gain, percent, status_badge
from .identity import current_actor
from .search_view import leaderboard
from .setup import set_active_run
from .verdict_view import adaptation_verdict

POLL_SECONDS = 0.5  # measured: the chart trails the worker by under a second (BENCHMARKS.md)


def feed(store, run_id: str) -> MetricsFeed:
    """One incremental reader per run and session, kept across reruns."""
    feeds = st.session_state.setdefault("run.feeds", {})
    if run_id not in feeds:
        feeds[run_id] = MetricsFeed(store, run_id)
    return feeds[run_id]


def run_panel(store, run_id: str) -> None:
    run = store.get(run_id)
    group = seed_group(store, run_id) if run.group_id else None
    live = (run.status in LIVE, bool(group and group.count(*LIVE)))
    st.fragment(run_every=POLL_SECONDS if any(live) else None)(_draw)(store, run_id, live)


def _draw(store, run_id: str, was_live: tuple[bool, bool]) -> None:
    """``was_live``: (this run, any run of its seed group) at the last full page run."""
    run = store.get(run_id)
    group = seed_group(store, run_id) if run.group_id else None
    if was_live[0] and not run.live:
        # Ended since the last poll. In a seed group the panel follows the seed that starts
        # next; either way the whole page redraws once (and stops polling if nothing is live).
        following = next((r for r in group.runs if r.live), None) if group else None
        if following:
            set_active_run(following.id)
        st.rerun()
    if was_live[1] and not (group and group.count(*LIVE)):
        st.rerun()
    rows = feed(store, run_id).poll()
    prog = progress(rows, run.status)
    _header(store, run, group, prog, waiting_for_slot(rows))
    if group:
        _group_progress(store, group, run_id)
    _state(store, run)
    searching = run.config.search_budget_s > 0
    if searching:
        leaderboard(run)
    if not prog.step and run.live:
        if not searching:  # a search's run has no steps of its own: its candidates train apart
            st.caption("Shown: step 0 · the curves appear with the first training step")
        return
    _charts(store, run_id, rows)
    # The newest step on screen and when it was drawn: what the lag benchmark reads.
    st.caption(f"Shown: step {prog.step} · drawn at {time.strftime('%H:%M:%S')}",
               help="redrawn every second from the run store while the run is active")


def _header(store, run, group, prog, waiting: bool) -> None:
    """The run's name, state and progress bar, and its buttons (Stop, Stop all seeds, Resume)."""
    head, buttons = st.columns([4, 1])
    with head:
        st.markdown(f"#### {run.name} {status_badge(run.status)}")
        if run.owner:
            st.caption(f"Started by `{run.owner}`")
        if prog.epochs:
            epoch = min(prog.epoch + (run.status in ACTIVE), prog.epochs)
            left = f" · about {duration(prog.eta_s)} left" if prog.eta_s is not None else ""
            text = f"epoch {epoch} of {prog.epochs} · step {prog.step:,} of {prog.total_steps:,}{left}"
        elif waiting and run.active:
            text = ("waiting for a free slot: a feasibility check or a feature map is using the CPU "
                    "(one heavy job at a time; TLSTUDIO_MAX_JOBS)")
        elif run.live and run.config.search_budget_s > 0:
            text = "trying recipes: the leaderboard below shows each candidate as it trains"
        else:
            text = ("preparing: loading the data and the backbone, scoring the untrained network"
                    if run.live else "no training step was recorded")
        st.progress(prog.fraction, text=text)
    with buttons:
        _buttons(store, run, group)


def _buttons(store, run, group) -> None:
    """Stop, Stop all seeds, Resume, Delete: disabled, saying whose run it is, for anyone but
    its owner or a teacher (tlcore checks again when pressed)."""
    actor = current_actor()
    allowed = can_manage(run, actor)
    why = None if allowed else f"{run.owner}'s run: only they or a teacher (sidebar) can stop, resume or delete it"
    try:
        if run.live and st.button("Stop", key="ui.stop", icon=":material/stop:", width="stretch",
                                  disabled=not allowed, help=why):
            stop(store, run.id, wait=False, actor=actor)
            st.toast("Stopping at the next step; a checkpoint is kept.")
        if group and group.count(*LIVE) > 1 and st.button("Stop all seeds", key="ui.stop_group", width="stretch",
                                                          icon=":material/stop_circle:", disabled=not allowed,
                                                          help=why):
            for member in group.runs:
                if member.live:
                    stop(store, member.id, wait=False, actor=actor)  # a queued seed is marked stopped at once
            st.toast("Stopping every seed of the group.")
        if run.status in ("stopped", "failed") and st.button("Resume", key="ui.resume", width="stretch",
                                                                icon=":material/play_arrow:", disabled=not allowed,
                                                                help=why):
            resume(store, run.id, actor=actor)
            st.rerun()
        if run.status in ENDED:
            _delete_button(store, run, actor, allowed, why)
    except NotOwnerError as exc:  # the teacher locked again, or another tab changed the name
        st.error(str(exc))


def _delete_button(store, run, actor, allowed: bool, why: str | None) -> None:
    """Delete behind a second click: it removes the record and the folder for good."""
    with st.popover("Delete", icon=":material/delete:", disabled=not allowed, help=why, width="stretch"):
        st.caption("Deletes the run's record and its folder (checkpoints, feature maps, log). It cannot be undone.")
        if st.button("Delete for good", key="ui.delete", type="primary"):
            store.delete(run.id, actor=actor)
            st.session_state.pop("run.active", None)
            st.query_params.pop("run", None)
            st.toast(f"Deleted {run.name} ({run.id}).")
            st.rerun()


TRUNK_HELP = ("The stages below the trainable ones are frozen, so their output for an image never changes: it was "
              "computed once, and every epoch ran only the stages that train. The model is the same as without it.")


def _state(store, run) -> None:
    """Why a run waits or failed, or its headline numbers once it finished."""
    if run.status == "queued":
        st.info("Waiting for a free slot: another run is training (see the runs table below). Queued runs start in "
                "turn across the people who queued them, each person's in the order queued.")
    if run.status == "failed":
        st.error(f"The run failed: {run.error or 'no reason recorded'}")
        tail = log_tail(store, run.id, 25)
        if tail:
            st.code(tail, language=None)
    summary = run.summary or {}
    if run.status == "finished" and summary:
        c = st.columns(3)
        c[0].metric("Target test accuracy", percent(summary.get("target.test.accuracy")),
                    delta=_gain(summary, "accuracy"))
        c[1].metric("Macro F1", percent(summary.get("target.test.macro_f1")), delta=_gain(summary, "macro_f1"))
        search = summary.get("search") or {}  # a recipe search's time is the whole search's
        c[2].metric("Time", duration(search.get("seconds") or summary.get("wall_time_s")),
                    help=f"on {summary.get('device')}" + (", the whole recipe search" if search else ""))
        adaptation_verdict(summary, "train")
        if (summary.get("trunk_cache") or {}).get("stages"):
            line = describe_record(summary["trunk_cache"])
            st.caption(line[0].upper() + line[1:] + ".", help=TRUNK_HELP)
        st.page_link("pages/evaluate.py", label="See the full evaluation", icon=":material/insights:",
                     query_params={"run": run.id})


def _charts(store, run_id: str, rows: list[dict]) -> None:
    figures = curve_figures(rows)
    a, b = st.columns(2)
    a.plotly_chart(figures["loss"], width="stretch", key="ui.chart_loss")
    b.plotly_chart(figures["quality"], width="stretch", key="ui.chart_quality")
    if "adaptation" in figures:
        st.plotly_chart(figures["adaptation"], width="stretch", key="ui.chart_adaptation")
    timeline = freeze_timeline_figure(rows)
    weights = instance_weights(store, run_id)
    if timeline is not None or weights:
        a, b = st.columns(2)
        if timeline is not None:
            a.plotly_chart(timeline, width="stretch", key="ui.chart_freeze")
        if weights:
            b.plotly_chart(weights_figure(weights), width="stretch", key="ui.chart_weights")


def _group_progress(store, group, run_id: str) -> None:
    """Where the seed group stands: a bar over its runs, each seed's state, the mean ± std
    so far and the validation curves of all seeds with their mean and band."""
    done = group.count("finished", "stopped", "failed")
    st.progress(done / group.n, text=f"Seed group · {group.progress_text()}")
    cells = []
    for member in group.runs:
        seed = member.seed
        acc = (member.summary or {}).get("target.test.accuracy")
        cell = f"seed {seed} {status_badge(member.status)}" + (f" {percent(acc)}" if acc is not None else "")
        cells.append(f"**{cell}**" if member.id == run_id else cell)
    st.markdown(" · ".join(cells))
    acc, f1 = group.scores.get("target.test.accuracy"), group.scores.get("target.test.macro_f1")
    if acc:
        what = "mean ± sample std" if acc.n > 1 else "one seed so far"
        st.caption(f"Finished seeds ({acc.n} of {group.n}, {what}): target test accuracy {acc.text(with_n=False)}, "
                   f"macro F1 {f1.text(with_n=False) if f1 else '–'}.")
        st.page_link("pages/evaluate.py", label="Compare the group on the Evaluate page", icon=":material/insights:",
                     query_params={"run": run_id})
    curves = {f"seed {m.seed}": feed(store, m.id).poll() for m in group.runs
              if m.status != "queued"}
    if any(curves.values()):
        st.plotly_chart(group_curve_figure(curves), width="stretch", key="ui.chart_group")


def _gain(summary: dict, name: str) -> str | None:
    change = gain(summary.get(f"target.test.{name}"), summary.get(f"before.target.test.{name}"))
    return change and f"{change} vs before transfer"
