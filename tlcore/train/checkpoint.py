"""Checkpoints: model weights as safetensors, optimiser and loop state as a plain torch
file read back with ``weights_only=True``.

A checkpoint is written whole or not at all: every file goes to a temporary file in the
same folder, is flushed to the disk (fsync), and only once all of them are written do they
replace the previous ones (os.replace, atomic on one file system). A full disk or a file
size limit mid-write leaves the previous checkpoint as it was, and the run fails with a
CheckpointWriteError that names the file and the cause.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from ..atomic import describe_os_error, write_all
from ..run_folder import RunFolder


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written (full disk, file size limit, I/O error); the
    previous checkpoint, if any, is untouched. ``errno`` is the OS error number."""

    def __init__(self, message: str, errno_: int | None = None):
        super().__init__(message)
        self.errno = errno_


def save_checkpoint(run: RunFolder, model: torch.nn.Module, optimizer, scheduler, state: dict, best: bool) -> Path:
    """The run's last epoch (and, when ``best``, its best) as one checkpoint; ``state``: the
    loop's record (tlcore.train.state.LoopState.checkpoint_record)."""
    folder = run.checkpoints
    weights = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    blobs = {run.LAST_WEIGHTS: safetensors_bytes(weights)}
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    blobs[run.LAST_STATE] = buffer.getvalue()
    blobs[run.LAST_LOOP] = json.dumps(state, indent=2).encode()
    if best:
        blobs[run.BEST_WEIGHTS] = blobs[run.LAST_WEIGHTS]
    try:
        write_all({folder / name: data for name, data in blobs.items()}, durable=True)
    except OSError as exc:
        previous = run.last_epoch_saved()
        kept = (f"the checkpoint of epoch {previous} is kept" if previous is not None
                else "there is no earlier checkpoint")
        raise CheckpointWriteError(
            f"could not write the checkpoint of epoch {state.get('epoch', '?')}: writing "
            f"{Path(exc.filename).name} in {folder} failed: {describe_os_error(exc)}; {kept}. Free some disk space "
            f"under {folder.parent}, then resume the run.", exc.errno) from exc
    return folder / run.LAST_WEIGHTS


def load_checkpoint(run: RunFolder, model: torch.nn.Module, optimizer=None, scheduler=None) -> dict:
    """Load the run's last checkpoint into ``model`` (and optimiser and schedule); returns
    the loop's record."""
    folder = run.checkpoints
    if not (folder / run.LAST_WEIGHTS).exists():
        raise FileNotFoundError(f"no checkpoint in {folder}")
    model.load_state_dict(load_file(str(folder / run.LAST_WEIGHTS)), strict=True)
    if optimizer is not None:
        extra = torch.load(folder / run.LAST_STATE, map_location="cpu", weights_only=True)
        optimizer.load_state_dict(extra["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(extra["scheduler"])
    return json.loads((folder / run.LAST_LOOP).read_text())
