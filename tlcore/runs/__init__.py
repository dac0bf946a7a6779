"""Runs that outlive the page: the SQLite run store, worker processes, job control,
seed groups and replays."""
from .errors import RunLimitError, RunStoreError
from .jobs import end_standby, prepare_standby, reconcile, resume, schedule, stop, submit, wait
from .limits import max_running_jobs, min_free_disk_mb
from .replay import replay
from .seeds import seed_group, submit_seeds
from .store import RUN_ID_FORMAT, RunStore, is_run_id, runs_dir

__all__ = ["RUN_ID_FORMAT", "RunLimitError", "RunStore", "RunStoreError", "end_standby", "is_run_id",
           "max_running_jobs", "min_free_disk_mb", "prepare_standby", "reconcile", "replay", "resume", "runs_dir",
           "schedule", "seed_group", "stop", "submit", "submit_seeds", "wait"]
