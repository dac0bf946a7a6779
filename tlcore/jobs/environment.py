"""The one environment recipe for every process TL Studio starts, and the thread count a
job applies to itself.

Thread contention is the biggest CPU trap on a small machine (DESIGN.md, measured here):
an OpenMP pool that spins while idle steals the core the dashboard or another job needs
(resnet18 at 12.9 img/s next to a busy process, 24.1 with OMP_WAIT_POLICY=PASSIVE), and a
tiny head trained with too many threads went from 0.2 s to 40 s. OpenMP reads these
variables when torch loads it, so they are set in the child's environment before it starts,
never by importing a module.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
THREADS_ENV = "TLSTUDIO_THREADS"
CACHE_ENV = "TLSTUDIO_CACHE_DIR"


def cache_dir() -> Path:
    """$TLSTUDIO_CACHE_DIR, else ~/.cache/tlstudio: compiled numba code and the like."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tlstudio")


def job_environment(threads: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a background process that may use ``threads`` CPU threads."""
    env = dict(os.environ if base is None else base)
    # The dashboard's teacher password (tlcore.runs.owners) is the server's alone: no job
    # needs it, and a job's environment is easier to leak (a log, a crash report).
    env.pop("TLSTUDIO_TEACHER_PASSWORD", None)
    n = str(max(1, int(threads)))
    env.update({
        "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, THREADS_ENV: n,
        "OMP_WAIT_POLICY": "PASSIVE",  # idle threads sleep instead of spinning on a shared core
        "NUMBA_NUM_THREADS": n,
        # A crash in native code (a segfault, an abort) prints every thread's Python stack to
        # the job's log, instead of a worker that ends with nothing said.
        "PYTHONFAULTHANDLER": "1",
        # umap-learn's compiled functions are cached here (tlcore.embed.layout turns the cache on),
        # so only the first layout process on a machine pays the 20-30 s compile.
        "NUMBA_CACHE_DIR": env.get("NUMBA_CACHE_DIR") or str(cache_dir() / "numba"),
        # `python -m tlcore...` must find this checkout whatever the caller's working directory.
        "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p),
    })
    return env


def quiet_openmp() -> None:
    """For a process TL Studio does not start itself (the dashboard's server): let OpenMP's
    idle threads sleep. Call it before torch is imported; a value already set is kept."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def apply_thread_count() -> int:
    """In a job process: torch's thread count from the recipe ($TLSTUDIO_THREADS), if set.
    Returns the count torch uses now."""
    import torch
    threads = int(os.environ.get(THREADS_ENV, "0") or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
