"""Training runs as background jobs: queue, start, stop, reconcile, resume, wait.

A run's state lives in the run store (queued, running, stopping, stopped, finished,
failed); its worker process is started through tlcore.jobs (the one environment recipe)
and takes a heavy slot when it begins to train, so a feasibility check or a pretrained map
and a run never train side by side beyond the cap.
"""
from __future__ import annotations

import os
import signal
import threading
import time

from ..jobs import JobKind, how_it_ended, max_running_jobs, pid_alive, register_job_kind, signal_job, spawn
from ..run_record import ACTIVE, LIVE
from .limits import disk_space_problem
from .owners import Actor, check_can_manage, fair_order, last_started
from .store import RunStore

KIND = register_job_kind(JobKind("train", "tlcore.runs.worker", "a training run", heavy=True))
# A spare worker that has already imported torch and the training code (about 10 s on a
# small CPU) and waits on its stdin for a run id: the dashboard keeps one, so pressing
# Start does not wait for the imports. Closing its stdin (or this process exiting) ends it.
_standby: dict[str, object] = {}  # runs folder -> spare worker (a Popen)
_standby_lock = threading.Lock()


def submit(store: RunStore, config, name: str = "", owner: str = "") -> str:
    """Record a run as queued (``owner``'s) and start it if a slot is free. RunLimitError (a
    RunStoreError) when the disk under the runs folder is too full to start one."""
    run_id = store.create_run(config, name, owner=owner)
    schedule(store)
    return run_id


def schedule(store: RunStore) -> list[str]:
    """Start queued runs while fewer than the cap are running, round-robin across owners
    (owners.fair_order: the owner whose last run started longest ago first, each owner's
    oldest first). A queued run that would start on a too-full disk fails instead, with the
    figures as its error (it can be resumed once there is space): waiting silently would
    look like a hang."""
    reconcile(store)
    started = []
    runs = store.list_runs()
    running = len([r for r in runs if r.active])
    for run in fair_order([r for r in runs if r.status == "queued"], last_started(runs)):
        if running >= max_running_jobs():
            break
        problem = disk_space_problem(run.folder)
        if problem:
            store.claim(run.id, ("queued",), status="failed", ended=time.time(), error=problem)
            continue
        if store.claim(run.id, ("queued",), status="running", started=time.time(), pid=None):
            _start_worker(store, run.id)
            started.append(run.id)
            running += 1
    return started


def _start_worker(store: RunStore, run_id: str) -> None:
    folder = store.get(run_id).files
    proc = _take_standby(store)
    if proc is not None:
        proc.stdin.write(f"{run_id}\n".encode())  # it redirects its output to the run's worker.log
        proc.stdin.close()
    else:
        proc = spawn(KIND.name, [run_id, "--runs-dir", str(store.root)], folder.log)
    store.update(run_id, pid=proc.pid)


def prepare_standby(store: RunStore) -> None:
    """Keep one spare worker for ``store`` (the dashboard calls this): the next run starts in
    it, skipping the imports. Costs one idle process (about 400 MB) while it waits. Not
    while a run trains (its imports would slow that run down), nor with TLSTUDIO_STANDBY=0."""
    if os.environ.get("TLSTUDIO_STANDBY") == "0" or any(r.active for r in store.list_runs()):
        return
    with _standby_lock:
        proc = _standby.get(str(store.root))
        if proc is not None and proc.poll() is None:
            return
        _standby[str(store.root)] = spawn(KIND.name, ["--standby", "--runs-dir", str(store.root)],
                                          store.root / "standby.log", stdin_pipe=True)


def _take_standby(store: RunStore):
    with _standby_lock:
        proc = _standby.pop(str(store.root), None)
    if proc is None or proc.poll() is not None:
        return None
    return proc


def end_standby() -> None:
    with _standby_lock:
        for proc in _standby.values():
            if proc.poll() is None:
                proc.stdin.close()  # it reads EOF and exits
        _standby.clear()


def log_tail(store: RunStore, run_id: str, lines: int = 20) -> str:
    return store.get(run_id).files.log_tail(lines)


def reconcile(store: RunStore) -> list[str]:
    """Runs marked running/stopping whose process is gone become failed, with the log tail."""
    failed = []
    for run in store.list_runs():
        if run.active and run.host_is_here and run.pid and not pid_alive(run.pid):
            # Re-read: the worker may have recorded its own end between the two reads.
            ended = how_it_ended(run.pid)  # known when this process started the worker
            if store.claim(run.id, ACTIVE, status="failed", ended=time.time(),
                           error="the worker process ended without reporting (killed or crashed"
                                 + (f": {ended}" if ended else "") + "); last log lines:\n"
                                 + log_tail(store, run.id)):
                failed.append(run.id)
    return failed


def stop(store: RunStore, run_id: str, grace_s: float = 10.0, wait: bool = True, actor: Actor | None = None) -> str:
    """Ask a run to stop (flag in the store), then SIGTERM after the grace period, then SIGKILL.
    NotOwnerError when ``actor`` may not manage it (None: the caller may, like the CLI)."""
    check_can_manage(store.get(run_id), actor, "stop")
    store.request_stop(run_id)
    run = store.get(run_id)
    if not wait or not run.active:
        return run.status
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            signal_job(run.pid, sig)  # the worker leads its own session
        if _wait_until_ended(store, run_id, run.pid, grace_s):
            break
    reconcile(store)
    return store.get(run_id).status


def _wait_until_ended(store: RunStore, run_id: str, pid: int | None, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not store.get(run_id).active or not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


def resume(store: RunStore, run_id: str, actor: Actor | None = None) -> str:
    """Queue a stopped or failed run again; it continues from its last checkpoint. It keeps
    its owner and its place in the fair queue is its owner's. NotOwnerError as for stop."""
    run = store.get(run_id)
    check_can_manage(run, actor, "resume")
    if run.status not in ("stopped", "failed"):
        raise ValueError(f"run {run_id} is {run.status}; only stopped or failed runs can be resumed")
    store.claim(run_id, ("stopped", "failed"), status="queued", resume=1, stop_requested=0, error=None)
    schedule(store)
    return store.get(run_id).status


def wait(store: RunStore, run_id: str, timeout_s: float = 600) -> str:
    """Block until the run is no longer queued or active (for the CLI and tests)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reconcile(store)
        status = store.get(run_id).status
        if status not in LIVE:
            return status
        time.sleep(0.2)
    raise TimeoutError(f"run {run_id} still {store.get(run_id).status} after {timeout_s} s")
