"""What every page shares: page setup, the sidebar, cached core calls.

Kept here (not in tlcore, which never imports streamlit). Session-state keys are
namespaced ``data.*``, ``model.*`` so pages cannot collide.
"""
from __future__ import annotations

import streamlit as st

from tlcore.backbones import DEFAULT_BACKBONE, backbone_info, list_backbones
from tlcore.data import domain_info, list_domains, load_domain
from tlcore.devices import resolve_device

DEMO_SOURCE, DEMO_TARGET = "mnist", "syndigits"


# (script, label, icon): the app's pages in sidebar order. Streamlit routes them by file
# (app.py is "/", pages/data.py is "/data"), so a deep link works on a fresh server.
PAGES = (("app.py", "Home", ":material/home:"),
         ("pages/data.py", "Data", ":material/photo_library:"),
         ("pages/backbones.py", "Backbones", ":material/account_tree:"))


def page_setup(title: str) -> None:
    """The first call of every page: page config, the shared sidebar, then the page title."""
    st.set_page_config(page_title=f"{title} · TL Studio" if title != "TL Studio" else title,
                       page_icon="assets/logo.png", layout="wide")
    with st.sidebar:
        for script, label, icon in PAGES:
            st.page_link(script, label=label, icon=icon)
        st.divider()
        st.markdown("### TL Studio")
        st.caption("Can a pretrained network learn my images?")
        st.markdown(f"**Demo pair:** `{DEMO_SOURCE}` → `{DEMO_TARGET}`")
        info = backbone_info(DEFAULT_BACKBONE)
        state = "pretrained weights ready" if info.imagenet_available else "weights missing"
        st.markdown(f"**Default backbone:** `{DEFAULT_BACKBONE}` ({state})")
        st.markdown(f"**Training device:** `{training_device()}`")
        st.caption(f"{len(list_backbones())} backbones · {len(list_domains())} built-in domains")
    st.title(title)


@st.cache_resource
def training_device() -> str:
    """What `device=auto` picks here: CUDA, then Apple MPS, then the CPU."""
    return resolve_device("auto")


@st.cache_resource(show_spinner="Loading the built-in domain…")
def cached_domain(name: str, per_class: int | None = -1):
    return load_domain(name, per_class=per_class)


def domain_label(name: str) -> str:
    info = domain_info(name)
    return f"{name} — {info.num_images:,} images, {len(info.class_names)} classes"
