"""Checkpoints: model weights as safetensors, optimiser and loop state as a plain torch
file read back with ``weights_only=True``.

A checkpoint is written whole or not at all: every file goes to a temporary file in the
same folder, is flushed to the disk (fsync), and only once all of them are written do they
replace the previous ones (os.replace, atomic on one file system). A full disk or a file
size limit mid-write leaves the previous checkpoint as it was, and the run fails with a
CheckpointWriteError that names the file and the cause.
"""
from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

TMP_SUFFIX = ".tmp"


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written (full disk, file size limit, I/O error); the
    previous checkpoint, if any, is untouched. ``errno`` is the OS error number."""

    def __init__(self, message: str, errno_: int | None = None):
        super().__init__(message)
        self.errno = errno_


def _write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (a temporary name) and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)  # raises OSError (ENOSPC, EFBIG, EIO ...)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without directory handles: the renames are still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _describe(exc: OSError) -> str:
    code = exc.errno
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
            errno.EFBIG: "the file would pass the size limit this process may write"}.get(code)
    reason = exc.strerror or str(exc)
    name = errno.errorcode.get(code, "") if code else ""
    return f"{reason} ({name}{', ' if name and what else ''}{what or ''})" if (name or what) else reason


def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer, scheduler, state: dict, best: bool) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    blobs = {"last.safetensors": safetensors_bytes(weights)}
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    blobs["last_state.pt"] = buffer.getvalue()
    blobs["last.json"] = json.dumps(state, indent=2).encode()
    if best:
        blobs["best.safetensors"] = blobs["last.safetensors"]
    written: list[Path] = []
    current = None
    try:
        for name, data in blobs.items():
            current = folder / (name + TMP_SUFFIX)
            written.append(current)
            _write_durably(current, data)
    except OSError as exc:
        for tmp in written:
            try:
                tmp.unlink()
            except OSError:
                pass
        previous = _previous_epoch(folder)
        kept = (f"the checkpoint of epoch {previous} is kept" if previous is not None
                else "there is no earlier checkpoint")
        raise CheckpointWriteError(
            f"could not write the checkpoint of epoch {state.get('epoch', '?')}: writing {current.name} in "
            f"{folder} failed: {_describe(exc)}; {kept}. Free some disk space under {folder.parent}, then "
            "resume the run.", exc.errno) from exc
    # Every file is on the disk: now swap them in (each replace is atomic).
    for name in blobs:
        os.replace(folder / (name + TMP_SUFFIX), folder / name)
    _fsync_dir(folder)
    return folder / "last.safetensors"


def _previous_epoch(folder: Path):
    try:
        return json.loads((folder / "last.json").read_text())["epoch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer=None, scheduler=None) -> dict:
    folder = Path(folder)
    if not (folder / "last.safetensors").exists():
        raise FileNotFoundError(f"no checkpoint in {folder}")
    model.load_state_dict(load_file(str(folder / "last.safetensors")), strict=True)
    if optimizer is not None:
        extra = torch.load(folder / "last_state.pt", map_location="cpu", weights_only=True)
        optimizer.load_state_dict(extra["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(extra["scheduler"])
    return json.loads((folder / "last.json").read_text())
