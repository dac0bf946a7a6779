"""Runs that outlive the page: the SQLite run store, worker processes, job control."""
from .jobs import max_running_jobs, reconcile, resume, schedule, stop, submit, wait
from .store import RunStore, RunStoreError, runs_dir

__all__ = ["RunStore", "RunStoreError", "max_running_jobs", "reconcile", "resume", "runs_dir", "schedule", "stop",
           "submit", "wait"]
