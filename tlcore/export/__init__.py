"""Exports of a run's best model: safetensors with a JSON model card, ONNX (dynamic batch,
checked with onnxruntime against the torch model), TorchScript, and a zip bundle with a
predict.py that needs only onnxruntime, Pillow and numpy.

Every function takes a run folder (found through the run store's record, never built from
an id) and writes through a temporary file, so a reader never sees half an export.

The names load on first use (PEP 562), so importing the package costs nothing until one is
used (``python -m tlcore export`` is tlcore.cli.export).
"""
from importlib import import_module

_WHERE = {
    "write_bundle": "bundle", "default_bundle_path": "bundle", "build_model_card": "model_card",
    "export_onnx": "onnx_export", "export_safetensors": "safetensors_export",
    "load_safetensors_model": "safetensors_export", "export_torchscript": "torchscript_export",
    "ExportError": "run_model", "ImageClassifier": "run_model", "load_run_model": "run_model",
    "Verification": "verify", "verify_onnx": "verify", "verify_torchscript": "verify",
    "verify_safetensors": "verify",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # once: later look-ups skip this function
    return value
