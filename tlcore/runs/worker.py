"""One run in its own process: ``python -m tlcore.runs.worker RUN_ID --runs-dir DIR``.

Started by tlcore.runs.scheduler through tlcore.jobs (whose environment recipe sets the
threads and OpenMP's wait policy before torch loads), in a session of its own; stdout and
stderr go to the run's worker.log. The CLI runs ``run_recorded`` in the foreground.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from ..jobs import apply_thread_count, heavy_slot


def run_recorded(store, run_id: str, extra_listeners=(), resume: bool = False):
    """Train run ``run_id`` of ``store`` in this process, recording everything in the store
    and in the run's folder."""
    from ..train import train
    from .recorder import StopPoller
    run = store.get(run_id)
    stop = StopPoller(store, run_id)
    signal.signal(signal.SIGTERM, lambda *_: stop.trip())  # graceful: stop at the next step
    # The stop flag is left as it is: a Stop pressed while this worker was still starting up
    # stops the run at its first step (resume() clears the flag when it queues a run again).
    store.update(run_id, status="running", pid=os.getpid(), host=socket.gethostname(), started=time.time(),
                 ended=None, error=None)
    listeners = run_listeners(store, run, extra_listeners)
    try:
        # One heavy job at a time per slot: a feasibility check or a pretrained map may hold it.
        slot = heavy_slot(store.root, on_wait=lambda why: _waiting(store, run_id, why))
        with _torch_threads(run.config.threads), slot:
            if run.config.search_budget_s > 0:  # a recipe search: it ends as its winner's run
                from .search_run import run_search
                result = run_search(run.config, run.files, listeners, stop)
            else:
                result = train(run.config, listeners, stop, resume_from=run.files if resume or run.resume else None)
    except BaseException as exc:  # noqa: BLE001 - any failure must reach the store, then propagate
        store.update(run_id, status="failed", ended=time.time(), error=f"{type(exc).__name__}: {exc}")
        raise
    store.update(run_id, status=result.status, ended=time.time(), error=result.summary.get("error"),
                 summary=result.summary, resume=0)
    return result


def _waiting(store, run_id: str, why: str) -> None:
    """Say, in the log and to the Train page, that the run waits for a heavy slot."""
    print(why, flush=True)
    store.add_metrics(run_id, [(0, 0, "run", "waiting_for_slot", 1.0, time.time())])


def run_listeners(store, run, extra=()) -> list:
    """What a recorded run tells its events to: the store first (an epoch's numbers are in
    before its checkpoint is written), then ``extra`` (the CLI's progress bar), the run
    folder's listeners, then MLflow if asked for."""
    from ..listeners import folder_listeners
    from .recorder import StoreRecorder
    return [StoreRecorder(store, run.id), *extra, *folder_listeners(run.files),
            *_tracking(store, run, run.config, run.folder)]


@contextmanager
def _torch_threads(threads: int):
    """A replay pins the original's thread count (on the CPU the result depends on it); the
    caller's own count is back afterwards."""
    import torch
    before = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _tracking(store, run, config, folder: Path) -> list:
    """The MLflow logger when the user asked for tracking (tlcore.tracking), else nothing;
    why it is missing, when asked for, goes to the run's log."""
    from ..tracking import mlflow_listener

    def bundle() -> Path:  # built only at the end of a finished run, and only when tracked
        from ..export import write_bundle
        return write_bundle(folder, record=run)
    logger, note = mlflow_listener(config, folder, run.id, store.root, bundle=bundle)
    if note:
        print(note, flush=True)
    return [logger] if logger else []


def _wait_for_run(runs_dir: str | None) -> str | None:
    """Standby: pay the imports now, then block until the dashboard sends a run id. The
    output goes to that run's worker.log from then on."""
    import lightning_fabric  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    from ..listeners import folder_listeners  # noqa: F401
    from ..train import train  # noqa: F401
    print("standby: ready", flush=True)
    run_id = sys.stdin.readline().strip()
    if not run_id:
        return None  # stdin closed: the dashboard went away or no longer needs a spare
    from .store import RunStore
    store = RunStore(runs_dir)
    log = os.open(store.get(run_id).files.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    return run_id


def main(argv=None) -> int:
    from .scheduler import schedule
    from .store import RunStore
    parser = argparse.ArgumentParser(prog="python -m tlcore.runs.worker")
    parser.add_argument("run_id", nargs="?")
    parser.add_argument("--runs-dir")
    parser.add_argument("--standby", action="store_true",
                        help="import everything, then wait for a run id on stdin (a spare worker)")
    args = parser.parse_args(argv)
    if args.standby:
        args.run_id = _wait_for_run(args.runs_dir)
        if args.run_id is None:
            return 0
    if not args.run_id:
        parser.error("a run id is needed (or --standby)")
    store = RunStore(args.runs_dir)
    apply_thread_count()
    code = 0
    try:
        run_recorded(store, args.run_id)
    except Exception:  # noqa: BLE001 - already recorded as failed; the traceback goes to worker.log
        traceback.print_exc()
        code = 1
    finally:
        schedule(store)  # this slot is free: start the next queued run, if any
    return code


if __name__ == "__main__":
    sys.exit(main())
