"""The one way TL Studio starts background work: training workers, the feasibility check,
the pretrained feature map, the UMAP layout beside a run, model exports.

Every process is started by ``spawn`` with one environment recipe (threads, OpenMP wait
policy, numba), and every heavy kind takes a slot of one cap (``heavy_slot``). Folder jobs
(``start_job`` -> ``JobHandle``: state, progress, log tail, stop, wait) keep their state in a
folder; training runs keep theirs in the run store (tlcore.runs), on the same primitives.
The backend is local processes; a cluster backend would replace ``spawn`` and the slots.
"""
from .environment import apply_thread_count, cache_dir, job_environment, quiet_openmp
from .folder_jobs import JobContext, JobHandle, JobState, job_folder, job_main, start_job
from .kinds import SHARE, JobKind, job_kind, list_job_kinds, register_job_kind
from .processes import how_it_ended, log_tail, pid_alive, signal_job, spawn
from .slots import busy_slots, heavy_slot, max_running_jobs

__all__ = ["SHARE", "JobContext", "JobHandle", "JobKind", "JobState", "apply_thread_count", "busy_slots",
           "cache_dir", "heavy_slot", "job_environment", "job_folder", "job_kind", "job_main", "list_job_kinds",
           "how_it_ended", "log_tail", "max_running_jobs", "pid_alive", "quiet_openmp", "register_job_kind",
           "signal_job", "spawn", "start_job"]
