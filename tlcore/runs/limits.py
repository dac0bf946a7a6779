"""The limit on runs defined here: how much disk stays free. How many heavy jobs (training
among them) run at once is tlcore.jobs.slots.

Read from the environment on every call (not at import), so a changed variable takes effect
for the next run and tests can set one. The data limits are in ``tlcore.data.limits``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..config import env_int
from ..data.limits import MiB
from .errors import RunLimitError

DISK_ENV = "TLSTUDIO_MIN_FREE_DISK_MB"
# A run writes its checkpoints (weights plus optimiser state: about 60 MB for the default
# lite0, over 1 GB for vit_b_16), feature-map snapshots and logs. Below this much free
# space a new run is refused rather than left to fail half-way with a full disk.
DEFAULT_MIN_FREE_DISK_MB = 1024


def min_free_disk_mb() -> int:
    """$TLSTUDIO_MIN_FREE_DISK_MB (0 turns the check off), else 1024."""
    return env_int(DISK_ENV, DEFAULT_MIN_FREE_DISK_MB, minimum=0)


def _existing(path: str | Path) -> Path:
    """``path`` or its nearest existing parent: a run folder may not exist yet."""
    path = Path(path).resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_disk_mb(path: str | Path) -> int:
    """Free space (MiB, what an unprivileged process can use) on the file system of ``path``."""
    return shutil.disk_usage(_existing(path)).free // MiB


def disk_space_problem(path: str | Path) -> str | None:
    """Why a run cannot start under ``path`` for lack of disk space, or None."""
    threshold = min_free_disk_mb()
    if threshold <= 0:
        return None
    where = _existing(path)
    free = free_disk_mb(where)
    if free >= threshold:
        return None
    return (f"not enough free disk space to start a run: {free:,} MB free under {str(where)!r}, below the "
            f"threshold of {threshold:,} MB. Free some space (python -m tlcore runs delete RUN_ID removes "
            f"a run and its folder) or change the threshold with {DISK_ENV} (0 turns the check off).")


def check_disk_space(path: str | Path) -> None:
    """RunLimitError (with the figures) when a run should not start under ``path``."""
    problem = disk_space_problem(path)
    if problem:
        raise RunLimitError(problem)
