"""The Evaluate page's one-click download of a run bundle (tlcore.export.write_bundle).

The button hands Streamlit a callable, so the zip (tens of MB) is built and read only when
someone clicks, never on the page's frequent reruns; meanwhile the button shows a spinner.
The bundle is built by ``python -m tlcore.export`` in a process of its own (as training
runs in a worker): torch.export takes seconds of CPU and global tracing state, which stay
out of the server. The bundle on disk is the cache: rebuilt only after a newer checkpoint.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import streamlit as st

from tlcore.export import default_bundle_path
from tlcore.predict import checkpoint_file
from tlcore.runs import is_run_id

from .setup import run_store

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 900
_LOCKS: dict[str, threading.Lock] = {}  # one build per run at a time, however many clicks
_LOCKS_GUARD = threading.Lock()


def _is_fresh(bundle: Path, checkpoint: Path | None) -> bool:
    return checkpoint is not None and bundle.exists() and bundle.stat().st_mtime >= checkpoint.stat().st_mtime


def _build(run_id: str, bundle: Path, runs_root: Path) -> None:
    if not is_run_id(run_id):  # the id goes on a command line: only the store's own form
        raise ValueError("not a run id")
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE",  # no spinning threads next to the server
               PYTHONPATH=os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p))
    done = subprocess.run([sys.executable, "-m", "tlcore.export", run_id, "--format", "bundle", "--out", str(bundle),
                           "--runs-dir", str(runs_root)], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
                          cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError(lines[-1].removeprefix("error: ") if lines else f"export exited with {done.returncode}")


def bundle_bytes(run: dict, runs_root: str | Path) -> bytes:
    """The bundle of ``run`` (a run-store row or overview), built first if missing or older
    than the run's checkpoint. Runs in Streamlit's download thread, so no st.* calls here;
    an error's message is what the button shows."""
    folder = Path(run["folder"])
    bundle = default_bundle_path(folder, run)
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(str(folder), threading.Lock())
    with lock:
        checkpoint = checkpoint_file(folder)  # the one the export uses
        if checkpoint is None:  # said here, without starting a process for it
            raise RuntimeError("the run has no checkpoint yet: it saves one after each epoch")
        if not _is_fresh(bundle, checkpoint):
            _build(run["id"], bundle, Path(runs_root))
        return bundle.read_bytes()


def bundle_download(run: dict) -> None:
    """A download button for the run's bundle, or why there is none yet."""
    folder = Path(run["folder"])
    checkpoint = checkpoint_file(folder)
    store = run_store()
    if checkpoint is None or store is None:
        st.info("No checkpoint yet, so nothing to export: the run saves one after each epoch."
                if store is not None else "The run store is not available, so nothing can be exported.")
        return
    bundle = default_bundle_path(folder, run)
    st.download_button(
        "Download the model bundle (.zip)", data=lambda: bundle_bytes(run, store.root), file_name=bundle.name,
        mime="application/zip", icon=":material/download:", on_click="ignore", key=f"ui.bundle.{run['id']}",
        help="The best checkpoint as ONNX, TorchScript and safetensors, a model card (classes, input size, "
             "normalisation, metrics, config), the run's metrics as CSV, the confusion matrix, and a predict.py "
             "that needs only onnxruntime, Pillow and numpy.")
    st.caption("Ready to download." if _is_fresh(bundle, checkpoint) else
               "Built when you click (a few seconds; the button spins meanwhile): each exported model is first "
               "checked against this run's predictions on its test set.")
