import pages.shared  # noqa: F401 - first: waits for the server's one-thread preload (see there)
import streamlit as st

from pages.shared.data_choice import chosen
from pages.shared.identity import current_actor
from pages.shared.run_panel import run_panel
from pages.shared.run_picker import mine_or_everyones, run_label
from pages.shared.search_view import adapt_form, search_form
from pages.shared.setup import active_run, page_setup, set_active_run
from pages.shared.train_form import build_config, current_strategy, freeze_plan, strategy_choice, training_fields
from tlcore.config import DEFAULT_BACKBONE, ModelConfig
from tlcore.runs import RunStoreError, prepare_standby, submit_seeds
from tlcore.runs.read import list_overviews
from tlcore.train import ConfigError, validate_config

store = page_setup("Train")
if store is not None:
    prepare_standby(store)  # a spare worker with torch imported: Start then skips ~10 s of imports
target, target_label = chosen("target")
source, source_label = chosen("source")
backbone = st.session_state.get("model.backbone", DEFAULT_BACKBONE)
method = current_strategy()
freeze = freeze_plan(method)
chosen = "" if st.session_state.get("model.freeze_chosen") else \
    f": {method}'s recommendation" if freeze != ModelConfig.freeze else ": the default"
st.markdown(f"**Target** `{target_label}` · **source** `{source_label or 'none'}` · **backbone** `{backbone}` "
            f"({st.session_state.get('model.weights', ModelConfig.weights)} weights, freeze `{freeze}`{chosen})")
st.caption("Change them on the Data and Model pages.")

with st.expander("New run", expanded=active_run(store) is None):
    info, params = strategy_choice(has_source=source is not None)
    fields = training_fields(info, target)
    problem = None
    if info.needs_source and source is None:
        problem = f"{info.name} needs a labelled source set: choose one on the Data page."
    config = None
    if problem is None:
        config = build_config(info, params, fields, target, source, target_label)
        try:
            for warning in validate_config(config):
                st.warning(warning)
        except ConfigError as exc:
            problem = str(exc)
    if problem:
        st.error(problem)
    seeds = int(fields["seeds"])
    label = "Start training" + (f" ({seeds} seeds, {int(fields['seed'])}–{int(fields['seed']) + seeds - 1})"
                                if seeds > 1 else "")
    if st.button(label, type="primary", icon=":material/play_arrow:", disabled=problem is not None
                 or store is None, key="ui.start"):
        try:  # several seeds: queued as one group; the job cap runs them one after another
            run_ids = submit_seeds(store, config, seeds, fields["name"], owner=current_actor().name)
        except RunStoreError as exc:  # e.g. too little free disk: the message has the figures
            st.error(f"The run was not started: {exc}")
        else:
            set_active_run(run_ids[0])
            st.session_state.pop("run.feeds", None)
            st.rerun()

with st.expander("Find the best recipe", icon=":material/travel_explore:"):
    search_form(store, config, problem, source)
if source is not None:
    with st.expander("Adapt automatically (no target labels)", icon=":material/auto_fix_high:"):
        adapt_form(store, config, problem, source)

if store is not None:
    run = active_run(store)
    if run is not None:
        st.divider()
        run_panel(store, run.id)
    runs = list(reversed(list_overviews(store)))
    if runs:
        st.divider()
        st.subheader("Runs")
        runs = mine_or_everyones(runs, lambda r: r["owner"], keep=lambda r: bool(run and r["id"] == run.id))
    if runs:
        labels = {r["id"]: run_label(r["name"], r["status"], r["id"], r["owner"]) for r in runs}
        # The box shows the active run however it became active (Start, a seed group moving
        # on); a keyed select box would otherwise keep its previous choice and switch back.
        st.session_state["ui.pick_run"] = run.id if run else runs[0]["id"]
        st.selectbox("Show run", list(labels), format_func=labels.get, key="ui.pick_run",
                     on_change=lambda: set_active_run(st.session_state["ui.pick_run"]))
        st.dataframe([{"run": r["id"], "name": r["name"], "owner": r["owner"] or "anyone", "status": r["status"],
                       "strategy": r["strategy"],
                       "backbone": r["backbone"], "target": r["target"].rsplit("/", 1)[-1], "seed": r["seed"],
                       "group": r["group"], "test accuracy": r["target.test.accuracy"]}
                      for r in runs[:50]], width="stretch", hide_index=True,
                     column_config={"test accuracy": st.column_config.NumberColumn(format="percent")})
