"""The feasibility check as a background job, for the dashboard: the page starts it and polls
its folder, so the check neither blocks the server nor dies with a closed tab.

``python -m tlcore.feasibility.job FOLDER`` reads FOLDER/spec.json (run_feasibility's
arguments) and writes progress.json while it works, then report.json and suspects.npy (the
thumbnails, a plain array: np.load with allow_pickle=False), or error.json with a message.
A folder is named after its spec, so asking again for the same check finds the result.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..atomic import save_npy, write_json

SPEC_KEYS = ("target", "source", "backbones", "weights", "per_class", "image_size", "seed", "target_domain",
             "source_domain", "label_edits")


def job_folder(root: Path, spec: dict) -> Path:
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return Path(root) / key


def start_feasibility(root: Path, spec: dict) -> Path:
    """The job folder of ``spec`` under ``root``; starts the job unless its result is there or
    it is already running (a failed one is started again: the user asked again)."""
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"unknown feasibility settings: {', '.join(unknown)}")
    folder = job_folder(root, spec)
    if job_state(folder)[0] in ("ready", "running"):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("error.json", "progress.json"):
        (folder / stale).unlink(missing_ok=True)
    write_json(folder / "spec.json", spec)
    # One thread each: the check shares a small CPU with the server and maybe a training run.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    with open(folder / "job.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tlcore.feasibility.job", str(folder)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    (folder / "pid").write_text(str(proc.pid))
    return folder


STARTUP_GRACE_S = 10.0


def _age_s(path: Path) -> float:
    import time
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return float("inf")


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def job_state(folder: Path) -> tuple[str, str, float]:
    """(ready | running | failed | missing, detail, progress 0-1) of a job folder."""
    folder = Path(folder)
    if (folder / "report.json").exists():
        return "ready", "", 1.0
    error = _read_json(folder / "error.json")
    if error is not None:
        return "failed", str(error.get("error", "the check failed")), 0.0
    try:
        pid = int((folder / "pid").read_text())
    except (OSError, ValueError):
        return "missing", "", 0.0
    progress = _read_json(folder / "progress.json") or {}
    from ..runs.jobs import pid_alive
    # Just after the start, the child may not have exec'd yet: its command line is still the
    # server's, which pid_alive does not take for ours. A few seconds' grace covers that.
    if pid_alive(pid) or (not progress and _age_s(folder / "pid") < STARTUP_GRACE_S):
        return "running", str(progress.get("message", "starting")), float(progress.get("fraction", 0.0))
    try:
        tail = (folder / "job.log").read_text(errors="replace").strip().splitlines()[-1:]
    except OSError:
        tail = []
    return "failed", tail[0] if tail else "the check ended without a result", 0.0


def read_result(folder: Path) -> tuple[dict | None, np.ndarray | None]:
    """(report, suspect thumbnails) of a finished job; (None, None) when there is none."""
    report = _read_json(Path(folder) / "report.json")
    if report is None:
        return None, None
    try:
        thumbs = np.load(Path(folder) / "suspects.npy", allow_pickle=False)
    except (OSError, ValueError):
        thumbs = None
    return report, thumbs


def main(argv=None) -> int:
    import torch
    torch.set_num_threads(1)
    folder = Path((argv or sys.argv[1:])[0])
    spec = json.loads((folder / "spec.json").read_text())
    from ..backbones import WeightsError
    from ..data import IngestError
    from ..registry import UnknownNameError
    from .report import run_feasibility
    try:
        result = run_feasibility(**spec, progress=lambda f, m: write_json(folder / "progress.json",
                                                                            {"fraction": f, "message": m}))
    except (IngestError, WeightsError, UnknownNameError, ValueError) as exc:
        write_json(folder / "error.json", {"error": str(exc)})  # a reason for the page, not a traceback
        print(f"error: {exc}", flush=True)
        return 2
    save_npy(folder / "suspects.npy", result.suspect_thumbs)
    write_json(folder / "report.json", result.report)  # last: its presence means "ready"
    print(f"feasibility check done in {result.report['seconds']['total']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
