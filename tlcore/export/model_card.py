"""The model card: what an exported model is, what it takes, how well it did (JSON)."""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import torch

from ..data.images import DEFAULT_MAX_SIDE
from ..run_folder import RunFolder
from ..run_record import RunRecord, is_run_id
from .run_model import INPUT_NAME, OUTPUT_NAME, RunModel

CARD_VERSION = 1
# Scalars of the run's summary that describe its result (the rest is bookkeeping).
_METRIC_PREFIXES = ("target.", "before.", "best.", "source.")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict:
    """What made and checked the exports; predict.py's three are what its README pins."""
    from importlib.metadata import PackageNotFoundError, version
    out = {"torch": torch.__version__}
    for name in ("onnx", "onnxscript", "onnxruntime", "pillow", "numpy", "safetensors"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _iso(stamp: float | None) -> str | None:
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc).isoformat(timespec="seconds") if stamp else None


def build_model_card(folder: str | Path, run: RunModel, record: RunRecord | None = None,
                     verification: dict | None = None) -> dict:
    """The card of a run's exported model; ``record``: its run-store record, when there is one
    (an id, a name, when it ended)."""
    folder = RunFolder(folder)
    config = folder.config().to_dict()
    summary = (record.summary if record else None) or folder.summary() or {}  # training still: none yet
    mean = run.module.mean.flatten().tolist()
    std = run.module.std.flatten().tolist()
    run_id = record.id if record else (folder.path.name if is_run_id(folder.path.name) else None)
    metrics = {k: v for k, v in summary.items()
               if k.startswith(_METRIC_PREFIXES) and isinstance(v, (int, float)) and not isinstance(v, bool)}
    for key in ("best_epoch", "epochs_run", "status"):
        if key in summary:
            metrics[key] = summary[key]
    return {
        "card_version": CARD_VERSION,
        "run_id": run_id,
        "name": (record.name if record else None) or config.get("name") or None,
        "exported": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "trained": _iso((record.ended or record.created) if record else None),
        "backbone": config["model"]["backbone"],
        "weights": config["model"]["weights"],
        "strategy": config["strategy"]["name"],
        "classes": run.class_names,
        "input": {
            "size": run.size, "color": "RGB", "dtype": "uint8", "layout": "NHWC (batch, height, width, channel)",
            "max_side": DEFAULT_MAX_SIDE, "onnx_input": INPUT_NAME, "onnx_output": OUTPUT_NAME,
            # How the dashboard turns a file into the model's input; predict.py does the same.
            "decode": f"EXIF rotation applied; transparency composited on white; RGB; longer side cut to "
                      f"{DEFAULT_MAX_SIDE} px (LANCZOS) when larger",
            "resize": f"PIL bilinear straight to {run.size} x {run.size} (no crop, aspect ratio not kept)",
        },
        "preprocessing": {
            "mean": mean, "std": std, "formula": "(x / 255 - mean) / std per RGB channel",
            "inside": {"onnx": True, "torchscript": True, "safetensors": False},
        },
        "output": "class probabilities (softmax), (N, number of classes), in the order of 'classes'",
        "metrics": metrics,
        "checkpoint": {"file": run.predictor.checkpoint.name, "sha256": _sha256(run.predictor.checkpoint)},
        "verification": verification,
        "software": _versions(),
        "config": config,
    }
