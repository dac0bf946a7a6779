"""TorchScript export: the same module as the ONNX one (uint8 images in, probabilities out),
traced. Tracing records the ops of one forward pass; the backbones here have no
data-dependent branches, and ``verify_torchscript`` checks the result on the test set.

torch 2.14 marks torch.jit as deprecated (FutureWarning, "switch to torch.export"); it still
writes and loads TorchScript, which LibTorch and older deployments read, so the warning is
silenced here, where it is chosen knowingly."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from ..atomic import atomic_output
from .run_model import RunModel, load_run_model


def export_torchscript(folder: str | Path, out: str | Path, run: RunModel | None = None) -> dict:
    """Write ``out`` (.pt, load with ``torch.jit.load``); the classes ride along as an extra file."""
    run = run or load_run_model(folder)
    out = Path(out)
    with atomic_output(out) as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)
        # check_trace re-runs and diffs the graph (seconds on a CPU); the verification compares outputs instead.
        traced = torch.jit.trace(run.module, run.example(), check_trace=False)
        extra = {"model_card_min.json": json.dumps({"classes": run.class_names, "input_size": run.size})}
        torch.jit.save(traced, str(tmp), _extra_files=extra)
    return {"path": out}
