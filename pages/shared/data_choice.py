"""The data a run will use, as chosen on the Data page and read by the Train page.

``data.target`` / ``data.source`` hold what RunConfig.data takes (a built-in domain name or
the path of a kept upload); ``*_label`` what the user recognises it by.
"""
from __future__ import annotations

import streamlit as st

from tlcore.data import IngestError, ingest_path, is_domain

from .setup import DEMO_SOURCE, DEMO_TARGET, cached_domain


def choose(role: str, spec: str | None, label: str | None) -> None:
    st.session_state[f"data.{role}"] = spec
    st.session_state[f"data.{role}_label"] = label


def chosen(role: str) -> tuple[str | None, str | None]:
    """(spec, label) of 'target' or 'source'; the demo pair until the user picks something."""
    if f"data.{role}" not in st.session_state:
        choose(role, *((DEMO_TARGET, DEMO_TARGET) if role == "target" else (DEMO_SOURCE, DEMO_SOURCE)))
    return st.session_state[f"data.{role}"], st.session_state[f"data.{role}_label"]


@st.cache_resource(max_entries=4, show_spinner="Reading the images…")
def _kept_upload(path: str):
    return ingest_path(path)


def load_chosen(spec: str):
    """The ImageSet (with its report) of a chosen spec; IngestError if it went missing."""
    if is_domain(spec):
        return cached_domain(spec)
    try:
        return _kept_upload(spec)
    except IngestError:
        raise
    except OSError as exc:
        raise IngestError(f"the kept upload {spec} cannot be read: {exc.strerror or exc}") from None


def label_edits_for(spec: str | None):
    """The label decisions recorded (on the Feasibility page) for target ``spec``: a LabelEdits,
    empty when there are none. Kept per target, so switching data never carries them over."""
    from tlcore.data.label_edits import LabelEdits
    raw = st.session_state.get("data.label_edits", {}).get(spec or "")
    return LabelEdits.from_dict(raw) if raw else LabelEdits()


def set_label_edits(spec: str, edits) -> None:
    all_edits = dict(st.session_state.get("data.label_edits", {}))
    if edits is None or not len(edits):
        all_edits.pop(spec, None)
    else:
        all_edits[spec] = edits.to_dict()
    st.session_state["data.label_edits"] = all_edits


def label_edits_config(spec: str | None) -> dict | None:
    """What DataConfig.label_edits takes for ``spec``: None when nothing was decided."""
    edits = label_edits_for(spec)
    return edits.to_dict() if len(edits) else None
