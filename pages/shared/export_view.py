"""The Evaluate page's one-click download of a run bundle (tlcore.runs.bundles).

The button hands Streamlit a callable, so the zip (tens of MB) is built and read only when
someone clicks, never on the page's frequent reruns; meanwhile the button shows a spinner.
The bundle is built by a background job of its own (as training runs in a worker), and the
bundle on disk is the cache: rebuilt only after a newer checkpoint.
"""
from __future__ import annotations

import streamlit as st

from tlcore.runs import RunRecord
from tlcore.runs.bundles import build_bundle, bundle_is_fresh, bundle_path

from .setup import run_store


def bundle_bytes(run: RunRecord, runs_root) -> bytes:
    """The bundle of ``run``, built first if missing or older than the run's checkpoint.
    Runs in Streamlit's download thread, so no st.* calls here; an error's message is what
    the button shows."""
    return build_bundle(runs_root, run).read_bytes()


def bundle_download(run: RunRecord) -> None:
    """A download button for the run's bundle, or why there is none yet."""
    store = run_store()
    if run.files.checkpoint() is None or store is None:
        st.info("No checkpoint yet, so nothing to export: the run saves one after each epoch."
                if store is not None else "The run store is not available, so nothing can be exported.")
        return
    st.download_button(
        "Download the model bundle (.zip)", data=lambda: bundle_bytes(run, store.root), file_name=bundle_path(run).name,
        mime="application/zip", icon=":material/download:", on_click="ignore", key=f"ui.bundle.{run.id}",
        help="The best checkpoint as ONNX, TorchScript and safetensors, a model card (classes, input size, "
             "normalisation, metrics, config), the run's metrics as CSV, the confusion matrix, and a predict.py "
             "that needs only onnxruntime, Pillow and numpy.")
    st.caption("Ready to download." if bundle_is_fresh(run) else
               "Built when you click (a few seconds; the button spins meanwhile): each exported model is first "
               "checked against this run's predictions on its test set.")
