"""The feasibility check as a background job (tlcore.jobs), for the dashboard: the page
starts it and polls its folder, so the check neither blocks the server nor dies with a
closed tab.

``python -m tlcore.feasibility.job FOLDER`` runs run_feasibility with FOLDER/spec.json as
its arguments, reports progress as it goes, then writes suspects.npy (the thumbnails, a
plain array: np.load with allow_pickle=False) and report.json, whose presence means ready.
It is a heavy job: while a training run holds the slot, it waits and says so.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..atomic import save_npy, write_json
from ..jobs import JobHandle, JobKind, JobState, job_main, register_job_kind, start_job

SPEC_KEYS = ("target", "source", "backbones", "weights", "per_class", "image_size", "seed", "target_domain",
             "source_domain", "label_edits")
REPORT, SUSPECTS = "report.json", "suspects.npy"
KIND = register_job_kind(JobKind(
    "feasibility", "tlcore.feasibility.job", "the feasibility check of a data set", heavy=True,
    threads=1,  # shares a small CPU with the server
    folder="feasibility", result=REPORT))


def start_feasibility(runs_root: str | Path, spec: dict) -> JobHandle:
    """The check of ``spec`` (run_feasibility's arguments) under the runs folder; started
    unless its result is there or it is already running."""
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"unknown feasibility settings: {', '.join(unknown)}")
    return start_job(KIND.name, runs_root, spec)


def feasibility_job(folder: str | Path) -> JobHandle:
    return JobHandle(folder, KIND.name)


def job_state(folder: str | Path) -> JobState:
    return feasibility_job(folder).state()


def read_result(folder: str | Path) -> tuple[dict | None, np.ndarray | None]:
    """(report, suspect thumbnails) of a finished job; (None, None) when there is none."""
    try:
        report = json.loads((Path(folder) / REPORT).read_text())
    except (OSError, ValueError):
        return None, None
    try:
        thumbs = np.load(Path(folder) / SUSPECTS, allow_pickle=False)
    except (OSError, ValueError):
        thumbs = None
    return report, thumbs


def _work(job) -> None:
    from .report import run_feasibility
    result = run_feasibility(**job.spec, progress=job.progress)
    save_npy(job.folder / SUSPECTS, result.suspect_thumbs)
    write_json(job.folder / REPORT, result.report)  # last: its presence means "ready"
    print(f"feasibility check done in {result.report['seconds']['total']} s", flush=True)


def main(argv=None) -> int:
    from ..backbones import WeightsError
    from ..data import IngestError
    from ..registry import UnknownNameError
    return job_main(argv, _work, expected=(IngestError, WeightsError, UnknownNameError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
