"""Runs that outlive the page: the SQLite run store, worker processes, job control."""
from .jobs import end_standby, max_running_jobs, prepare_standby, reconcile, resume, schedule, stop, submit, wait
from .store import RunStore, RunStoreError, runs_dir

__all__ = ["RunStore", "RunStoreError", "end_standby", "max_running_jobs", "prepare_standby", "reconcile", "resume", "runs_dir", "schedule", "stop",
           "submit", "wait"]
