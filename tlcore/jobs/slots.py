"""One cap on heavy work, shared by every heavy job of a runs folder: training runs, the
feasibility check, the pretrained feature map.

The cap is a set of slot files under RUNS/jobs/slots; a heavy job holds an exclusive lock
(flock) on one of them while it works and waits, saying so, while none is free. The kernel
releases a lock when its process ends, however it ends, so a killed job never leaves a slot
taken. On a CPU two heavy jobs side by side only slow each other down (measured: DESIGN.md),
hence one slot there by default.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

JOBS_ENV = "TLSTUDIO_MAX_JOBS"
WAIT_MESSAGE = ("waiting for a free slot: {busy} of {cap} heavy job{s} already running here (training, a "
                "feasibility check or a feature map; {env} sets how many run at once)")


def max_running_jobs() -> int:
    """$TLSTUDIO_MAX_JOBS, else 1 on a CPU-only machine (two trainings would only slow each
    other down) and 1 per GPU otherwise. 0 counts as 1: some job must be able to start."""
    from ..config import env_int
    if os.environ.get(JOBS_ENV, "").strip():
        return max(1, env_int(JOBS_ENV, 1, minimum=0))
    import torch
    return max(1, torch.cuda.device_count())


def slots_dir(runs_root: str | Path) -> Path:
    return Path(runs_root) / "jobs" / "slots"


def _try_lock(path: Path):
    import fcntl
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def busy_slots(runs_root: str | Path) -> int:
    """How many heavy jobs hold a slot now."""
    folder = slots_dir(runs_root)
    if not folder.is_dir():
        return 0
    busy = 0
    for k in range(max_running_jobs()):
        fd = _try_lock(folder / f"slot{k}")
        if fd is None:
            busy += 1
        else:
            os.close(fd)  # it was free: give it back at once
    return busy


@contextmanager
def heavy_slot(runs_root: str | Path, on_wait: Callable[[str], None] | None = None, poll_s: float = 0.5):
    """Hold one slot while the block runs; while every slot is taken, call ``on_wait`` (with
    the reason, once) and wait."""
    folder = slots_dir(runs_root)
    folder.mkdir(parents=True, exist_ok=True)
    said = False
    while True:
        cap = max_running_jobs()
        fd = next((fd for k in range(cap) if (fd := _try_lock(folder / f"slot{k}")) is not None), None)
        if fd is not None:
            break
        if on_wait is not None and not said:
            on_wait(WAIT_MESSAGE.format(busy=cap, cap=cap, s="s" * (cap != 1), env=JOBS_ENV))
            said = True
        time.sleep(poll_s)
    try:
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
