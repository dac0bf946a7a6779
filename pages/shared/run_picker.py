"""Choosing which run a page shows: the active run by default, kept in the URL."""
from __future__ import annotations

import streamlit as st

from tlcore.runs import RunRecord
from tlcore.runs.read import current_runs

from .setup import active_run, set_active_run


def pick_run(store, label: str = "Run", only=None) -> RunRecord | None:
    """A select box of runs (newest first), preselecting the active run; None if none fit."""
    runs = [r for r in reversed(current_runs(store)) if only is None or only(r)]
    if not runs:
        return None
    active = active_run(store)
    ids = [r.id for r in runs]
    by_id = {r.id: r for r in runs}
    key = f"ui.pick_{label}"
    # The box always shows the active run, however it became active (a link, a Re-run, a
    # seed group moving on): a keyed select box would otherwise keep its previous choice.
    st.session_state[key] = active.id if active and active.id in ids else ids[0]
    picked = st.selectbox(label, ids, key=key, on_change=lambda: set_active_run(st.session_state[key]),
                          format_func=lambda i: f"{by_id[i].name} · {by_id[i].status} · {i}")
    if not active or picked != active.id:
        set_active_run(picked)
    return by_id[picked]
