"""Optional experiment tracking: a run also logs to MLflow when the user asks for it.

Asked for by either MLFLOW_TRACKING_URI in the environment (every run of that server or
shell) or ``RunConfig.tracking == "mlflow"`` (the dashboard's sidebar switch), which without
the variable logs to an SQLite file in the runs folder. ``mlflow-skinny`` (plus SQLAlchemy
and Alembic for SQLite) is an optional extra: without it a run trains as usual and says why
nothing was logged. MLflow trouble (a server down, a full disk) never fails the run either.

Logged: every config field as a param (``data.target``, ``model.freeze``, ...), the library
versions and git commit as tags, per-epoch metrics at step = epoch, the final summary, and
the run's files (config.json, summary.json, the exported model bundle) as artifacts.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

from .run_folder import RunFolder
from .train.events import EpochEnded, RunEnded

ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
DEFAULT_EXPERIMENT = "tlstudio"
INSTALL_HINT = "pip install -r requirements-mlflow.txt: mlflow-skinny, SQLAlchemy, Alembic"
_STATUS = {"finished": "FINISHED", "stopped": "KILLED", "failed": "FAILED"}


def tracking_uri(config, runs_root: Path) -> str | None:
    """Where this run logs, or None when tracking is off."""
    uri = os.environ.get(ENV, "").strip()
    if uri:
        return uri
    if getattr(config, "tracking", "") == "mlflow":
        return f"sqlite:///{(Path(runs_root) / 'mlflow.db').resolve()}"
    return None


def flat_params(d: dict, prefix: str = "") -> dict[str, str]:
    """Nested config -> {"data.target": "syndigits", ...}; the environment goes to tags."""
    out = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key != "params" and key != "label_edits":
            out.update(flat_params(value, name + "."))
        else:
            out[name] = str(value)[:500]  # MLflow caps a param's length
    return out


def metric_name(key: str) -> str:
    """MLflow allows letters, digits, and _ - . space / in a metric name."""
    return re.sub(r"[^\w\-. /]", "_", key)


class MlflowLogger:
    """A training-loop listener that mirrors one run into MLflow (via MlflowClient: no global
    active-run state in the worker). ``bundle`` writes the exported model zip at the end."""

    def __init__(self, uri: str, config, folder: Path, run_id: str, artifact_root: Path, bundle=None):
        self.folder, self.bundle, self.broken = Path(folder), bundle, None
        try:
            from mlflow.entities import Param, RunTag
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise TrackingUnavailable(f"MLflow tracking was asked for but mlflow is not installed ({INSTALL_HINT})") \
                from None
        self.client = MlflowClient(uri)
        name = os.environ.get(EXPERIMENT_ENV) or DEFAULT_EXPERIMENT
        experiment = self.client.get_experiment_by_name(name)
        # Our own artifact folder: MLflow's default for an SQLite store is ./mlruns of
        # whatever directory the worker runs in, outside the app's folders.
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(
            name, artifact_location=Path(artifact_root).resolve().as_uri())
        tags = {"tlstudio.run_id": run_id, "tlstudio.folder": str(folder)}
        from .config import record_environment  # what this worker runs with (a replay's config has the original's)
        tags.update({f"env.{k}": str(v) for k, v in record_environment().items()})
        self.run_id = self.client.create_run(experiment_id, run_name=config.name or run_id,
                                             tags=tags).info.run_id
        params = flat_params({k: v for k, v in config.to_dict().items() if k != "environment"})
        items = [Param(k, v) for k, v in params.items()]
        for start in range(0, len(items), 100):  # log_batch takes at most 100 params a call
            self.client.log_batch(self.run_id, params=items[start:start + 100],
                                  tags=[RunTag("mlflow.source.name", "tlstudio")] if start == 0 else [])

    def _metrics(self, values: dict, step: int) -> None:
        import time

        from mlflow.entities import Metric
        now = int(time.time() * 1000)
        rows = [Metric(metric_name(k), float(v), now, step) for k, v in values.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))]
        for start in range(0, len(rows), 1000):
            self.client.log_batch(self.run_id, metrics=rows[start:start + 1000])

    def __call__(self, event) -> None:
        if self.broken:
            return
        try:
            if isinstance(event, EpochEnded):
                self._metrics(event.metrics, event.epoch)
            elif isinstance(event, RunEnded):
                self._end(event)
        except Exception as exc:  # noqa: BLE001 - tracking must never take the run down
            self.broken = f"MLflow logging stopped: {type(exc).__name__}: {exc}"
            print(self.broken, flush=True)

    def _end(self, event: RunEnded) -> None:
        summary = {k: v for k, v in event.summary.items() if not k.startswith("best.")}
        self._metrics({f"final.{k}": v for k, v in summary.items()}, int(event.summary.get("epochs_run") or 0))
        files = RunFolder(self.folder)
        for path in (files.file(files.CONFIG), files.file(files.SUMMARY)):
            if path.exists():
                self.client.log_artifact(self.run_id, str(path))
        if self.bundle is not None and event.status == "finished":
            self.client.log_artifact(self.run_id, str(self.bundle()), artifact_path="bundle")
        self.client.set_terminated(self.run_id, _STATUS.get(event.status, "FAILED"))


class TrackingUnavailable(RuntimeError):
    """Tracking was asked for and cannot happen; the run goes on without it."""


def mlflow_listener(config, folder: Path, run_id: str, runs_root: Path, bundle=None):
    """(listener or None, message or None) for one run: None when tracking is off, and a
    message a run log shows when it was asked for but cannot be set up."""
    uri = tracking_uri(config, runs_root)
    if uri is None:
        return None, None
    try:
        logger = MlflowLogger(uri, config, folder, run_id, Path(runs_root) / "mlflow-artifacts", bundle)
    except TrackingUnavailable as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - an unreachable server must not stop the training
        return None, f"MLflow tracking at {uri} could not start ({type(exc).__name__}: {exc}); training without it"
    return logger, f"logging to MLflow at {uri} (run {logger.run_id})"

