"""A run's model bundle built in the background, for the Evaluate page's download button.

torch.export takes seconds of CPU and global tracing state, which stay out of the server:
``start_bundle`` starts ``python -m tlcore.runs.bundles FOLDER`` (a tlcore.jobs folder job
in the run's exports/ folder) and the page waits on its handle. The bundle on disk is the
cache: built again only for a newer checkpoint. Two clicks build it once.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..jobs import JobHandle, JobKind, job_main, register_job_kind, start_job
from ..run_record import RunRecord

KIND = register_job_kind(JobKind("export", "tlcore.runs.bundles", "a run's model bundle", heavy=False))
BUILD_TIMEOUT_S = 900


def bundle_path(run: RunRecord) -> Path:
    from ..export import default_bundle_path
    return default_bundle_path(run.folder, run)


def bundle_is_fresh(run: RunRecord) -> bool:
    """The bundle is there and newer than the checkpoint it exports."""
    checkpoint, bundle = run.files.checkpoint(), bundle_path(run)
    return checkpoint is not None and bundle.exists() and bundle.stat().st_mtime >= checkpoint.stat().st_mtime


def start_bundle(runs_root: str | Path, run: RunRecord) -> JobHandle:
    """The job that builds ``run``'s bundle from its current checkpoint (FileNotFoundError
    when it has none yet); a job already built or building for that checkpoint is reused."""
    checkpoint = run.files.checkpoint()
    if checkpoint is None:
        raise FileNotFoundError("the run has no checkpoint yet: it saves one after each epoch")
    spec = {"run_id": run.id, "checkpoint": checkpoint.name, "stamp": checkpoint.stat().st_mtime_ns}
    return start_job(KIND.name, runs_root, spec, folder=run.files.export("bundle-job"))


def build_bundle(runs_root: str | Path, run: RunRecord, timeout_s: float = BUILD_TIMEOUT_S) -> Path:
    """The bundle of ``run``, built first when missing or older than its checkpoint; blocks
    until it is there. RuntimeError with the reason when it cannot be built."""
    if run.files.checkpoint() is None:  # said here, without starting a process for it
        raise RuntimeError("the run has no checkpoint yet: it saves one after each epoch")
    if bundle_is_fresh(run):
        return bundle_path(run)
    state = start_bundle(runs_root, run).wait(timeout_s)
    if state.status != "ready":
        raise RuntimeError(state.message or "the export did not finish")
    return bundle_path(run)


def _work(job) -> None:
    from ..export import write_bundle
    from .store import RunStore
    store = RunStore(job.meta["runs_root"])
    run = store.get(job.spec["run_id"])  # the id is checked, and the folder comes from the store
    job.progress(0.1, "exporting and checking the model")
    out = write_bundle(run.folder, record=run)
    print(f"wrote {out}", flush=True)


def main(argv=None) -> int:
    from ..export import ExportError
    return job_main(argv, _work, expected=(ExportError, FileNotFoundError, KeyError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
