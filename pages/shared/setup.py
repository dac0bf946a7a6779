"""What every page shares: page setup, the sidebar, cached core calls.

Kept here (not in tlcore, which never imports streamlit). Session-state keys are
namespaced by page (``data.*``, ``model.*``, ``train.*``, ``eval.*``, ``feat.*``, ``run.*``) so pages cannot collide.
"""
from __future__ import annotations

import streamlit as st

from tlcore.backbones import DEFAULT_BACKBONE
from tlcore.data import domain_info, load_domain
from tlcore.devices import resolve_device
from tlcore.runs import RunStore, RunStoreError, reconcile

from .format import status_badge

DEMO_SOURCE, DEMO_TARGET = "mnist", "syndigits"

# (script, label, icon): the app's pages in sidebar order. Streamlit routes them by file
# (app.py is "/", pages/data.py is "/data"), so a deep link works on a fresh server.
PAGES = (("app.py", "Home", ":material/home:"),
         ("pages/data.py", "Data", ":material/photo_library:"),
         ("pages/model.py", "Model", ":material/account_tree:"),
         ("pages/train.py", "Train", ":material/model_training:"),
         ("pages/features.py", "Features", ":material/scatter_plot:"),
         ("pages/evaluate.py", "Evaluate", ":material/insights:"),
         ("pages/predict.py", "Predict", ":material/image_search:"))

# Choices that must survive moving between pages. Streamlit forgets a widget's value when
# a page without that widget runs; writing the value back to itself each run keeps it.
_PERSISTENT_PREFIXES = ("data.", "model.", "train.", "eval.", "feat.")


def page_setup(title: str) -> RunStore | None:
    """The first call of every page: page config, the shared sidebar, then the page title.
    Returns the run store (None, with the reason shown, when the runs folder is unusable)."""
    st.set_page_config(page_title=f"{title} · TL Studio" if title != "TL Studio" else title,
                       page_icon="assets/logo.png", layout="wide")
    for key in list(st.session_state):
        if isinstance(key, str) and key.startswith(_PERSISTENT_PREFIXES) and not key.startswith(("data.upload",
                                                                                               "model.upload")):
            st.session_state[key] = st.session_state[key]
    store = run_store()
    run = active_run(store)
    with st.sidebar:
        for script, label, icon in PAGES:
            st.page_link(script, label=label, icon=icon, query_params={"run": run["id"]} if run else None)
        st.divider()
        st.markdown(f"**Device:** {device_label()}")
        if run:
            st.markdown(f"**Active run:** `{run['name']}`  \n{status_badge(run['status'])} · `{run['id']}`")
        else:
            st.caption("No run yet: start one on the Train page.")
        target, source = st.session_state.get("data.target_label"), st.session_state.get("data.source_label")
        st.caption(f"Data: {target or DEMO_TARGET}"
                   + (f" ← {source}" if source else "" if target else f" ← {DEMO_SOURCE}")
                   + f" · backbone: {st.session_state.get('model.backbone', DEFAULT_BACKBONE)}")
        if store is None:
            st.error(st.session_state.get("run.store_error", "The runs folder cannot be used."))
    st.title(title)
    return store


def run_store() -> RunStore | None:
    try:
        store = _store()
    except RunStoreError as exc:
        st.session_state["run.store_error"] = str(exc)
        return None
    return store


@st.cache_resource
def _store() -> RunStore:
    store = RunStore()
    reconcile(store)  # runs whose worker died while no dashboard was up are shown as failed
    return store


def active_run(store: RunStore | None) -> dict | None:
    """The run in the URL (?run=ID), else the one this session last looked at."""
    if store is None:
        return None
    run_id = st.query_params.get("run") or st.session_state.get("run.active")
    if not run_id:
        return None
    try:
        run = store.get(run_id)
    except KeyError:
        st.query_params.pop("run", None)
        st.session_state.pop("run.active", None)
        return None
    set_active_run(run_id)
    return run


def set_active_run(run_id: str) -> None:
    """Remember the run in the session and the URL, so a refresh or a shared link shows it."""
    st.session_state["run.active"] = run_id
    if st.query_params.get("run") != run_id:
        st.query_params["run"] = run_id


@st.cache_resource
def device_label() -> str:
    """What `device=auto` picks here, with the GPU's name."""
    device = resolve_device("auto")
    if device == "cuda":
        import torch
        return f"CUDA · {torch.cuda.get_device_name(0)}"
    return {"mps": "Apple MPS (GPU)", "cpu": "CPU (no GPU found)"}[device]


@st.cache_resource(show_spinner="Loading the built-in domain…")
def cached_domain(name: str, per_class: int | None = -1):
    return load_domain(name, per_class=per_class)


def domain_label(name: str) -> str:
    info = domain_info(name)
    return f"{name} — {info.num_images:,} images, {len(info.class_names)} classes"

