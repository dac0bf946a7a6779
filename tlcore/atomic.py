"""The one way TL Studio writes a file: write-then-rename. A path holds the old file or the
whole new one, never half of one, so the dashboard can read what a worker is writing.

``durable=True`` also flushes the data to the disk (fsync) before the rename, and
``write_all`` swaps in several files only once every one of them is written: a checkpoint
is its weights, optimiser state and loop state together, or the previous one.
"""
from __future__ import annotations

import errno
import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def temporary_path(path: Path) -> Path:
    """A hidden name beside ``path`` (same folder, so the rename stays on one file system;
    same suffix, since some writers look at it) that no other writer picks."""
    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(3)}.tmp{path.suffix}")


@contextmanager
def atomic_output(path: str | Path):
    """Yields a temporary path next to ``path`` for a writer that wants a file name (zip,
    ONNX, torch.save); on success it replaces ``path``, on any error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes, durable: bool = False) -> None:
    write_all({Path(path): data}, durable)


def write_text(path: str | Path, text: str, durable: bool = False) -> None:
    write_bytes(path, text.encode(), durable)


def write_json(path: str | Path, value, indent: int | None = None) -> None:
    write_text(path, json.dumps(value, indent=indent))


def save_npy(path: str | Path, array: np.ndarray) -> None:
    """An array as .npy without pickles (read back with ``allow_pickle=False``)."""
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def write_all(files: dict[Path, bytes], durable: bool = False) -> None:
    """Write every file to a temporary name, then rename them all into place. An OSError
    while writing (a full disk, a file-size limit) removes the temporary files, leaves every
    target as it was and propagates, with ``.filename`` set to the target being written."""
    temps: dict[Path, Path] = {}
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            temps[path] = temporary_path(path)
            _write_file(temps[path], data, durable)
    except OSError as exc:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        exc.filename = str(path)
        raise
    for path, tmp in temps.items():
        os.replace(tmp, path)
    if durable:
        for folder in {path.parent for path in files}:
            _fsync_dir(folder)


def _write_file(path: Path, data: bytes, durable: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]  # raises OSError (ENOSPC, EFBIG, EIO ...)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make the renames themselves durable; a platform without directory handles skips it
    (the renames are still atomic)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def describe_os_error(exc: OSError) -> str:
    """'File too large (EFBIG, the file would pass the size limit this process may write)'."""
    code = exc.errno
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
            errno.EFBIG: "the file would pass the size limit this process may write"}.get(code)
    reason = exc.strerror or str(exc)
    name = errno.errorcode.get(code, "") if code else ""
    return f"{reason} ({name}{', ' if name and what else ''}{what or ''})" if (name or what) else reason
