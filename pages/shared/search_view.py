"""'Find the best recipe' on the Train page: the button, and a search run's leaderboard."""
from __future__ import annotations

import dataclasses
import time

import streamlit as st

from tlcore.runs import RunStoreError, submit
from tlcore.search import DEFAULT_BUDGET_S, MIN_BUDGET_S, candidate_configs

from tlcore.validators import CHOSEN, VALIDATORS

from .format import percent
from .identity import current_actor
from .setup import set_active_run


def search_form(store, config, problem: str | None, source: str | None, button: str = "Find the best recipe",
                key: str = "ui.search") -> None:
    """The stated candidates for the chosen data, a budget and the button that queues the
    search as a run (its data, backbone, image size and seed are the form's; the source set
    chosen on the Data page comes along whatever the form's method, for the adaptation recipes)."""
    if config is not None and source:
        config = config.replace(data=dataclasses.replace(config.data, source=source))
    recipes = [recipe for recipe, _ in candidate_configs(config)] if config is not None else []
    label_free = config is not None and config.data.target_labels_per_class == 0
    ranked_by = (f"the label-free validator **{VALIDATORS[CHOSEN]}** (no target labels: the target's val labels "
                 "are not used, and source only is among the candidates, so the search never returns a model the "
                 "validator rates below it)") if label_free else "**validation** accuracy"
    st.caption(f"Tries these recipes on your data and keeps the best by {ranked_by} (successive "
               "halving: all train a twelfth of their schedule, the better half a quarter, the best all of it), "
               "and keeps the winner as an ordinary run. The test split is used only to report the winner.")
    st.markdown("\n".join(f"- **{r.name}**: {r.description}" for r in recipes) or "- (choose data first)")
    budget_key = "train.search_budget" if key == "ui.search" else "train.adapt_budget"
    st.session_state.setdefault(budget_key, DEFAULT_BUDGET_S)  # kept across pages, as the form's
    budget = st.number_input("Time budget (seconds)", MIN_BUDGET_S, 24 * 3600, step=30, key=budget_key,
                             help="for the whole search; 180 s fits the demo "
                                  "on 2 CPU cores, a GPU gets further in the same time")
    if st.button(button, icon=":material/travel_explore:", disabled=problem is not None
                 or store is None or not recipes, key=key):
        try:
            run_id = submit(store, config.replace(search_budget_s=float(budget)),
                            "adapt automatically" if label_free else "recipe search", owner=current_actor().name)
        except RunStoreError as exc:
            st.error(f"The search was not started: {exc}")
        else:
            set_active_run(run_id)
            st.session_state.pop("run.feeds", None)
            st.rerun()


PHASES = {"searching": "Trying recipes", "evaluating": "Evaluating the winner on test", "done": "Done"}


def leaderboard(run) -> None:
    """The candidates so far, best first: validation accuracy, epochs, seconds, status."""
    board = run.files.leaderboard()
    if not board:
        st.caption("Recipe search: starting…")
        return
    elapsed = board.get("seconds") or (time.time() - board["started"] if run.live else None)
    phase = PHASES.get(board["phase"], board["phase"])
    spent = f" · {elapsed:.0f} s of a {board['budget_s']:.0f} s budget" if elapsed is not None else ""
    st.markdown(f"**Recipe search** · {phase}{spent}")
    if not board["candidates"]:  # before the first candidate starts: the data and the features load
        st.caption("Loading the data for the first candidate…")
        return
    label_free = any("validator" in r for r in board["candidates"])
    key = "validator" if label_free else "val_accuracy"
    rows = sorted(board["candidates"], key=lambda r: r[key] if r.get(key) is not None else -float("inf"),
                  reverse=True)
    winner = board.get("winner")
    table = [{"recipe": ("★ " if r["recipe"] == winner else "") + r["recipe"],
              **({f"validator ({CHOSEN})": r["validator"]} if label_free else {}), "val accuracy": r["val_accuracy"],
              "epochs": r["epochs"], "seconds": r["seconds"],
              "status": r["status"] + (f" ({r['note']})" if r.get("note") else "")} for r in rows]
    if label_free:
        st.caption(f"No target labels: ranked by the validator `{CHOSEN}` ({VALIDATORS[CHOSEN]}); the val accuracy "
                   "is shown for this benchmark-style data, never used to choose.")
    st.container(key="search_leaderboard").dataframe(  # the key: browser tests find the leaderboard by it
        table, hide_index=True, width="stretch",
        column_config={"val accuracy": st.column_config.NumberColumn(format="percent")})
    if winner and board["phase"] == "done":
        summary = run.summary or {}
        st.success(f"Winner: **{winner}** · target test accuracy {percent(summary.get('target.test.accuracy'))} "
                   f"(before transfer {percent(summary.get('before.target.test.accuracy'))}). Its per-class "
                   "results are on the Evaluate page.")


def adapt_form(store, config, problem: str | None, source: str | None) -> None:
    """'Adapt automatically': the recipe search without target labels, its adaptation
    candidates ranked by the label-free validator, source only among them."""
    if config is None or not source:
        st.caption("Choose a labelled source set on the Data page: adaptation needs one.")
        return
    config = config.replace(data=dataclasses.replace(config.data, source=source, target_labels_per_class=0))
    search_form(store, config, problem, source, button="Adapt automatically", key="ui.adapt")
