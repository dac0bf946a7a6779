"""Jobs that live in a folder of their own: the feasibility check, the pretrained feature
map, a model export. The dashboard starts one and polls its folder, so the work neither
blocks the server nor dies with a closed tab; asking again for the same work finds it.

A job folder holds (names only here):
  spec.json      the job's settings (its folder is named after them: same settings, same job)
  job.json       the kind and the runs folder whose slots a heavy job takes
  pid            the process, once started
  progress.json  {fraction, message}, written by the job as it works
  error.json     {error}: why it could not do the work (a message for the page)
  job.log        the process's output
  and its results, the kind's ``result`` file last: its presence means finished.
"""
from __future__ import annotations

import hashlib
import json
import signal
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import NamedTuple

from ..atomic import write_json, write_text
from .environment import apply_thread_count
from .kinds import JobKind, job_kind
from .processes import log_tail, pid_alive, signal_job, spawn
from .slots import heavy_slot

SPEC, META, PID, PROGRESS, ERROR, LOG = "spec.json", "job.json", "pid", "progress.json", "error.json", "job.log"
STARTUP_GRACE_S = 10.0  # a child may not have exec'd yet: its command line is still the parent's


class JobState(NamedTuple):
    status: str  # ready | running | failed | missing
    message: str = ""
    fraction: float = 0.0


def job_folder(runs_root: str | Path, kind: str, spec: dict) -> Path:
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return Path(runs_root) / (job_kind(kind).folder or kind) / key


class JobHandle:
    def __init__(self, folder: str | Path, kind: str):
        self.folder, self.kind = Path(folder), job_kind(kind)

    def __repr__(self) -> str:
        return f"JobHandle({self.kind.name!r}, {str(self.folder)!r})"

    def file(self, name: str) -> Path:
        return self.folder / name

    @property
    def pid(self) -> int | None:
        try:
            return int(self.file(PID).read_text())
        except (OSError, ValueError):
            return None

    def state(self) -> JobState:
        if self.file(self.kind.result).exists():
            return JobState("ready", "", 1.0)
        error = _read_json(self.file(ERROR))
        if error is not None:
            return JobState("failed", str(error.get("error", "the job failed")))
        pid = self.pid
        if pid is None:
            return JobState("missing")
        progress = _read_json(self.file(PROGRESS)) or {}
        if pid_alive(pid) or (not progress and _age_s(self.file(PID)) < STARTUP_GRACE_S):
            return JobState("running", str(progress.get("message", "starting")), float(progress.get("fraction", 0.0)))
        if self.file(self.kind.result).exists():  # it finished between the two looks
            return JobState("ready", "", 1.0)
        tail = log_tail(self.file(LOG), 1)
        return JobState("failed", tail or f"the {self.kind.name} job ended without a result")

    def log_tail(self, lines: int = 20) -> str:
        return log_tail(self.file(LOG), lines)

    def stop(self) -> bool:
        return signal_job(self.pid, signal.SIGTERM)

    def wait(self, timeout_s: float, poll_s: float = 0.2) -> JobState:
        deadline = time.monotonic() + timeout_s
        while (state := self.state()).status == "running":
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {self.kind.name} job in {self.folder} is still running after {timeout_s} s")
            time.sleep(poll_s)
        return state


def start_job(kind: str, runs_root: str | Path, spec: dict, folder: str | Path | None = None) -> JobHandle:
    """The job of ``spec`` (in ``folder``, default named after the spec under the runs
    folder); started unless it is finished or running already. A failed one starts again:
    the user asked again; so does a finished one in a folder given for another spec.
    Concurrent callers (threads or processes) start it once."""
    info = job_kind(kind)
    handle = JobHandle(folder or job_folder(runs_root, kind, spec), kind)
    handle.folder.mkdir(parents=True, exist_ok=True)
    with _locked(handle.folder / ".start.lock"):
        status = handle.state().status
        if status == "running" or (status == "ready" and _read_json(handle.file(SPEC)) == spec):
            return handle
        for stale in (ERROR, PROGRESS, PID, info.result):
            handle.file(stale).unlink(missing_ok=True)
        write_json(handle.file(SPEC), spec)
        write_json(handle.file(META), {"kind": info.name, "runs_root": str(Path(runs_root).resolve())})
        proc = spawn(info.name, [str(handle.folder)], handle.file(LOG))
        write_text(handle.file(PID), str(proc.pid))
    return handle


class JobContext:
    """What a job's work function gets: its folder, its spec, and a progress reporter."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.spec = json.loads((folder / SPEC).read_text())
        self.meta = json.loads((folder / META).read_text())  # kind, runs_root

    def progress(self, fraction: float, message: str) -> None:
        write_json(self.folder / PROGRESS, {"fraction": float(fraction), "message": message})

    def fail(self, message: str) -> None:
        write_json(self.folder / ERROR, {"error": message})


def job_main(argv: list[str] | None, work: Callable[[JobContext], None],
             expected: tuple[type[BaseException], ...] = (ValueError,)) -> int:
    """The body of a job process (``python -m MODULE FOLDER``): threads from the recipe, a
    slot when the kind is heavy, then ``work(context)``. An ``expected`` error becomes
    error.json (a reason for the page, exit 2); anything else a traceback in job.log."""
    folder = Path((sys.argv[1:] if argv is None else argv)[0])
    meta = json.loads((folder / META).read_text())
    kind: JobKind = job_kind(meta["kind"])
    apply_thread_count()
    context = JobContext(folder)
    slot = heavy_slot(meta["runs_root"], on_wait=lambda why: context.progress(0.0, why)) if kind.heavy \
        else nullcontext()
    try:
        with slot:
            work(context)
        if kind.result == "done":  # the plain marker; other kinds' work writes their result last
            write_text(folder / kind.result, "")
    except expected as exc:
        context.fail(str(exc))
        print(f"error: {exc}", flush=True)
        return 2
    except Exception as exc:  # noqa: BLE001 - the page shows the reason, the log the traceback
        traceback.print_exc()
        context.fail(f"{type(exc).__name__}: {exc}")
        return 1
    return 0


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return float("inf")


@contextmanager
def _locked(path: Path):
    """An exclusive lock on ``path`` for the with-block (between threads and processes)."""
    import fcntl
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
