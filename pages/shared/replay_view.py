"""Replays on the Evaluate page: the Re-run button, and how a finished replay compares with
the run it replays."""
from __future__ import annotations

import streamlit as st

from tlcore.runs import RunRecord, replay
from tlcore.runs.replay import replay_report, replay_warnings

from .format import percent
from .identity import current_actor
from .setup import set_active_run


def rerun_button(store, run: RunRecord) -> None:
    """Re-run: a new run from this run's config.json (same seed, same thread count), started
    through the job queue; the Train page then shows it live."""
    text, button = st.columns([5, 1], vertical_alignment="center")
    warnings = replay_warnings(store, run.id)
    text.caption("**Re-run** starts a new run from this run's config.json: same data, seed and thread count. "
                 "On the same device it ends on the same final metrics."
                 + (" " + " ".join(f"Note: {w}." for w in warnings) if warnings else
                    " The recorded library versions and code match this machine's."))
    live = run.live
    if button.button("Re-run", key="ui.rerun", icon=":material/replay:", width="stretch", disabled=live,
                     help="wait until the run ends" if live else "a replay, as a new run: watch it on the Train page"):
        new_id = replay(store, run.id, owner=current_actor().name)
        set_active_run(new_id)
        st.switch_page("pages/train.py", query_params={"run": new_id})


def replay_note(store, run: RunRecord) -> None:
    """For a replay: whether its final metrics match the original's, and what changed."""
    if not run.replay_of:
        return
    report = replay_report(store, run.id)
    if report is None:
        st.caption(f"A replay of {run.replay_of}, which is no longer in the run store.")
        return
    if run.status != "finished" or not report["rows"]:
        st.caption(f"A replay of `{report['original']}`: compared with it when it finishes.")
        return
    numbers = ", ".join(f"{r['metric'].replace('target.', '').replace('.', ' ').replace('_', ' ')} "
                        f"{percent(r['replay'])}"
                        for r in report["rows"][:3])
    changed = f" Environment changed: {'; '.join(report['environment'])}." if report["environment"] else ""
    if report["identical"]:
        st.success(f"Replay of `{report['original']}`: identical final metrics ({numbers}).{changed}",
                   icon=":material/check_circle:")
    else:
        diffs = ", ".join(f"{r['metric']} {percent(r['original'])} → {percent(r['replay'])}" for r in report["rows"]
                          if r["difference"])
        st.warning(f"Replay of `{report['original']}`: the final metrics differ ({diffs}).{changed}",
                   icon=":material/difference:")
