"""The kinds of background job, each registered by the module that runs it.

A kind names the module a job process runs (``python -m MODULE ...``), whether it is heavy
(it takes one of the slots that cap how many run at once, see tlcore.jobs.slots) and how
many CPU threads it may use. Registering by module name keeps this package below the ones
that register: it starts their processes without importing them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..registry import Registry

SHARE = 0  # threads=SHARE: the cores divided by the number of slots


@dataclass(frozen=True)
class JobKind:
    name: str
    module: str  # run as python -m MODULE
    description: str
    heavy: bool  # takes a slot: waits while the cap's worth of heavy jobs runs
    threads: int = SHARE
    folder: str | None = None  # folder jobs: where under the runs folder their folders go
    result: str = "done"  # folder jobs: the file whose presence means finished

    def thread_count(self) -> int:
        if self.threads > 0:
            return self.threads
        from .slots import max_running_jobs
        return max(1, (os.cpu_count() or 1) // max_running_jobs())


_KINDS: Registry[JobKind] = Registry("job kind")


def register_job_kind(kind: JobKind) -> JobKind:
    """Register ``kind`` once per process (a module imported twice under one name is fine)."""
    if kind.name not in _KINDS:
        _KINDS.register(kind.name, kind, lambda: kind)
    return kind


def job_kind(name: str) -> JobKind:
    return _KINDS.get(name).info


def list_job_kinds() -> list[str]:
    return _KINDS.names()
