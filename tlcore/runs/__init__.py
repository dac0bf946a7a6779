"""Runs that outlive the page: the SQLite run store, worker processes and their schedule,
seed groups and replays."""
from ..jobs import max_running_jobs
from ..run_record import RUN_ID_FORMAT, RunRecord, is_run_id
from .errors import RunLimitError, RunStoreError
from .limits import min_free_disk_mb
from .replay import replay
from .scheduler import end_standby, prepare_standby, reconcile, resume, schedule, stop, submit, wait
from .seeds import seed_group, submit_seeds
from .store import RunStore, runs_dir

__all__ = ["RUN_ID_FORMAT", "RunLimitError", "RunRecord", "RunStore", "RunStoreError", "end_standby", "is_run_id",
           "max_running_jobs", "min_free_disk_mb", "prepare_standby", "reconcile", "replay", "resume", "runs_dir",
           "schedule", "seed_group", "stop", "submit", "submit_seeds", "wait"]
