"""ONNX export with a dynamic batch axis.

The exporter is torch.export's (``dynamo=True``, torch's default since 2.9, which needs
onnxscript): it captures the whole graph or fails loudly, where the older TorchScript-based
exporter traces one path and warns that it is deprecated and will be removed. A model that
torch.export cannot capture falls back to that older exporter; either way the file is only
trusted after ``verify_onnx`` has compared it with the torch model.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from ..atomic import atomic_output
from .run_model import INPUT_NAME, OUTPUT_NAME, RunModel, load_run_model

OPSET = 18  # read by every onnxruntime since 1.14 (2023)
EXPORTERS = ("auto", "dynamo", "legacy")


def _dynamo(module, example, path: Path) -> None:
    batch = torch.export.Dim("batch", min=1)
    program = torch.onnx.export(module, (example,), dynamo=True, input_names=[INPUT_NAME],
                                output_names=[OUTPUT_NAME], dynamic_shapes=({0: batch},),
                                opset_version=OPSET, verbose=False)
    program.save(str(path), external_data=False)  # one file: the weights inside the model


def _legacy(module, example, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # chosen knowingly, as the fallback
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(module, (example,), str(path), dynamo=False, input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME], opset_version=OPSET,
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})


def _stamp(path: Path, metadata: dict[str, str]) -> None:
    """Classes and input contract in the file itself (onnxruntime: get_modelmeta())."""
    import onnx
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def export_onnx(folder: str | Path, out: str | Path, exporter: str = "auto", run: RunModel | None = None) -> dict:
    """Write the run's best model to ``out`` (.onnx): input ``image`` (N, S, S, 3) uint8 RGB,
    output ``probabilities`` (N, C). Returns {path, exporter, opset, fallback_reason}."""
    if exporter not in EXPORTERS:
        raise ValueError(f"unknown exporter {exporter!r}; valid: {', '.join(EXPORTERS)}")
    run = run or load_run_model(folder)
    example, used, reason = run.example(), exporter, None
    out = Path(out)
    with atomic_output(out) as tmp, torch.no_grad():
        if exporter in ("auto", "dynamo"):
            try:
                _dynamo(run.module, example, tmp)
                used = "dynamo"
            except Exception as exc:  # any capture failure: the fallback below, with the reason kept
                if exporter == "dynamo":
                    raise
                used, reason = "legacy", f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        if used == "legacy":
            _legacy(run.module, example, tmp)
        _stamp(tmp, {"classes": json.dumps(run.class_names), "input_size": str(run.size),
                     "input": "uint8 RGB (N, S, S, 3), resized with PIL bilinear; normalisation inside",
                     "exporter": used})
    return {"path": out, "exporter": used, "opset": OPSET, "fallback_reason": reason}
