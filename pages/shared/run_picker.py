"""Choosing which run a page shows: the active run by default, kept in the URL; the lists
show this session's own runs ("my runs"), everyone's one switch away."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import streamlit as st

from tlcore.runs import RunRecord
from tlcore.runs.owners import owner_label
from tlcore.runs.read import current_runs

from .identity import EVERYONE_KEY, current_actor
from .setup import active_run, set_active_run

T = TypeVar("T")


def pick_run(store, label: str = "Run", only=None) -> RunRecord | None:
    """A select box of runs (newest first), preselecting the active run; None if none fit."""
    active = active_run(store)
    runs = [r for r in reversed(current_runs(store)) if only is None or only(r)]
    runs = mine_or_everyones(runs, lambda r: r.owner, keep=lambda r: bool(active and r.id == active.id))
    if not runs:
        return None
    ids = [r.id for r in runs]
    by_id = {r.id: r for r in runs}
    key = f"ui.pick_{label}"
    # The box always shows the active run, however it became active (a link, a Re-run, a
    # seed group moving on): a keyed select box would otherwise keep its previous choice.
    st.session_state[key] = active.id if active and active.id in ids else ids[0]
    picked = st.selectbox(label, ids, key=key, on_change=lambda: set_active_run(st.session_state[key]),
                          format_func=lambda i: run_label(by_id[i].name, by_id[i].status, i, by_id[i].owner))
    if not active or picked != active.id:
        set_active_run(picked)
    return by_id[picked]


def run_label(name: str, status: str, run_id: str, owner: str) -> str:
    return f"{name} · {status} · {run_id}" + (f" · {owner}" if owner else "")


def mine_or_everyones(items: Sequence[T], owner: Callable[[T], str], keep: Callable[[T], bool] = lambda _: False
                      ) -> list[T]:
    """The items (runs or their table rows) this session owns, plus what ``keep`` says (the
    run it looks at), unless the "Everyone's runs" switch is on; all of them for a session
    without a name (nobody to filter by). The switch is drawn only when it would hide some."""
    name = current_actor().name
    if not name or all(owner(i) == name for i in items):
        return list(items)
    everyone = st.toggle("Everyone's runs", key=EVERYONE_KEY,
                         help=f"off: only the runs you (`{name}`) started; on: every run on this server, "
                              f"{owner_label('')} ones included")
    shown = [i for i in items if everyone or owner(i) == name or keep(i)]
    if len(shown) < len(items):
        st.caption(f"Showing your runs; {len(items) - len(shown)} of others hidden (switch on Everyone's runs "
                   "to see them).")
    return shown
