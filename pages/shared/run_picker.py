"""Choosing which run a page shows: the active run by default, kept in the URL."""
from __future__ import annotations

import streamlit as st

from tlcore.runs.read import list_overviews

from .setup import active_run, set_active_run


def pick_run(store, label: str = "Run", only=None) -> dict | None:
    """A select box of runs (newest first), preselecting the active run; None if none fit."""
    runs = [r for r in reversed(list_overviews(store)) if only is None or only(r)]
    if not runs:
        return None
    active = active_run(store)
    ids = [r["id"] for r in runs]
    index = ids.index(active["id"]) if active and active["id"] in ids else 0
    by_id = {r["id"]: r for r in runs}
    picked = st.selectbox(label, ids, index=index, key=f"ui.pick_{label}",
                          format_func=lambda i: f"{by_id[i]['name']} · {by_id[i]['status']} · {i}")
    if not active or picked != active["id"]:
        set_active_run(picked)
    return by_id[picked]
