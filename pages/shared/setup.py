"""What every page shares: page setup, the sidebar, cached core calls.

Kept here (not in tlcore, which never imports streamlit). Session-state keys are
namespaced by page (``data.*``, ``model.*``, ``train.*``, ``eval.*``, ``feat.*``, ``feas.*``,
``run.*``) so pages cannot collide.
"""
from __future__ import annotations

import hmac
import re
from pathlib import Path

import streamlit as st

from tlcore.backbones import DEFAULT_BACKBONE
from tlcore.data import domain_info, load_domain
from tlcore.devices import resolve_device
from tlcore.runs import RUN_ID_FORMAT, RunRecord, RunStore, RunStoreError, is_run_id, reconcile

from .format import status_badge
from .identity import identity_sidebar

DEMO_SOURCE, DEMO_TARGET = "mnist", "syndigits"
# Beside app.py, not in the working directory: `tlstudio app` runs from anywhere.
LOGO = Path(__file__).resolve().parents[2] / "assets" / "logo.png"

# (script, label, icon): the app's pages in sidebar order. Streamlit routes them by file
# (app.py is "/", pages/data.py is "/data"), so a deep link works on a fresh server.
PAGES = (("app.py", "Home", ":material/home:"),
         ("pages/data.py", "Data", ":material/photo_library:"),
         ("pages/feasibility.py", "Feasibility", ":material/fact_check:"),
         ("pages/model.py", "Model", ":material/account_tree:"),
         ("pages/train.py", "Train", ":material/model_training:"),
         ("pages/features.py", "Features", ":material/scatter_plot:"),
         ("pages/evaluate.py", "Evaluate", ":material/insights:"),
         ("pages/predict.py", "Predict", ":material/image_search:"),
         ("pages/learn.py", "Learn", ":material/school:"))

# Choices that must survive moving between pages. Streamlit forgets a widget's value when
# a page without that widget runs; writing the value back to itself each run keeps it.
_PERSISTENT_PREFIXES = ("data.", "model.", "train.", "eval.", "feat.", "feas.", "owner.")


def page_setup(title: str) -> RunStore | None:
    """The first call of every page: page config, the shared sidebar, then the page title.
    Returns the run store (None, with the reason shown, when the runs folder is unusable)."""
    st.set_page_config(page_title=f"{title} · TL Studio" if title != "TL Studio" else title,
                       page_icon=str(LOGO), layout="wide")
    if not _password_ok():
        st.stop()  # nothing else of any page runs until the session has the password
    for key in list(st.session_state):
        if isinstance(key, str) and key.startswith(_PERSISTENT_PREFIXES) and not key.startswith(("data.upload",
                                                                                               "model.upload")):
            st.session_state[key] = st.session_state[key]
    store = run_store()
    run = active_run(store)
    with st.sidebar:
        for script, label, icon in PAGES:
            st.page_link(script, label=label, icon=icon, query_params={"run": run.id} if run else None)
        st.divider()
        identity_sidebar()
        st.markdown(f"**Device:** {device_label()}")
        _tracking_switch(store)
        if run:
            st.markdown(f"**Active run:** `{run.name}`  \n{status_badge(run.status)} · `{run.id}`"
                        + (f" · started by `{run.owner}`" if run.owner else ""))
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


def _tracking_switch(store) -> None:
    """Log runs to MLflow: on by itself when MLFLOW_TRACKING_URI is set (every run of this
    server logs there), else a switch that logs new runs to an SQLite file in the runs folder."""
    import importlib.util
    import os
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if uri:
        st.caption(f"Runs also log to MLflow at `{uri}` (MLFLOW_TRACKING_URI).")
        return
    installed = importlib.util.find_spec("mlflow") is not None
    on = st.toggle("Log runs to MLflow", key="run.mlflow", disabled=not installed or store is None,
                   help="New runs also log their settings, per-epoch metrics and exported model to MLflow"
                        + (f", in {store.root / 'mlflow.db'}" if store is not None else "") if installed else
                   "MLflow is an optional extra: pip install -r requirements-mlflow.txt")
    if on and store is not None:
        st.caption(f"Open it with `mlflow ui --backend-store-uri sqlite:///{store.root.resolve() / 'mlflow.db'}` "
                   "(the full mlflow package has the web UI).")


def _class_password() -> str | None:
    """The optional password from Streamlit's secrets (.streamlit/secrets.toml):
    [tlstudio] password = "...". None when there is no secrets file or no such entry.
    A table, not a top-level key: Streamlit copies top-level strings into os.environ,
    and from there into every worker process."""
    try:
        section = st.secrets.get("tlstudio") or {}
    except FileNotFoundError:  # no secrets file at all (StreamlitSecretNotFoundError)
        return None
    password = section.get("password") if hasattr(section, "get") else None
    return str(password) if password else None


def _password_ok() -> bool:
    """True when no password is set, or this browser session has typed it; else draws the
    password box (and nothing else)."""
    expected = _class_password()
    if expected is None or st.session_state.get("auth.ok"):
        return True
    st.title("TL Studio")
    typed = st.text_input("Password", type="password", key="auth.password")
    if typed:
        # Constant-time comparison: the time taken says nothing about how much was right.
        if hmac.compare_digest(typed.encode(), expected.encode()):
            st.session_state["auth.ok"] = True
            st.rerun()
        st.error("Wrong password.")
    return False


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


def active_run(store: RunStore | None) -> RunRecord | None:
    """The run in the URL (?run=ID), else the one this session last looked at. An id in the
    URL that is not of the store's form is dropped with a warning, never looked up or used."""
    url_id = st.query_params.get("run")
    if url_id and not is_run_id(url_id):
        st.query_params.pop("run", None)
        # Shown as code and cut short: a crafted link must not put markdown on the page.
        shown = re.sub(r"[^\w./-]", "?", url_id[:40])
        st.warning(f"The link's run id `{shown}` is not a run id (run ids look like `{RUN_ID_FORMAT}`); "
                   "it was ignored.", icon=":material/link_off:")
        url_id = None
    if store is None:
        return None
    run_id = url_id or st.session_state.get("run.active")
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

