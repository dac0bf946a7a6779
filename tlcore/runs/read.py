"""The read side the dashboard polls: cheap queries, nothing that blocks a writer."""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..config import RunConfig
from ..run_record import RunRecord
from .scheduler import reconcile
from .store import RunStore

HEADLINE = ("target.test.accuracy", "target.test.macro_f1", "before.target.test.accuracy")


def overview(run: RunRecord) -> dict:
    """A run as one row of a table (the Train page's, ``runs list``): what it is, how it
    stands, its headline numbers."""
    config = run.config
    return {"id": run.id, "name": run.name, "status": run.status, "created": run.created,
            "strategy": config.strategy.name, "backbone": config.model.backbone, "target": config.data.target,
            "source": config.data.source, "seed": config.seed, "group": run.group_id, "replay_of": run.replay_of,
            "owner": run.owner,
            # Where it trained (a worker on the GPU shows as cuda), once it has.
            "device": (run.summary or {}).get("device"), **{k: run.score(k) for k in HEADLINE},
            "error": run.error, "folder": str(run.folder)}


def current_runs(store: RunStore) -> list[RunRecord]:
    """Every run, oldest first, with dead workers already marked failed."""
    reconcile(store)  # a dead worker shows as failed the moment anyone looks
    return store.list_runs()


def list_overviews(store: RunStore) -> list[dict]:
    return [overview(r) for r in current_runs(store)]


def metrics_since(store: RunStore, run_id: str, step: int = -1) -> list[dict]:
    """Rows newer than ``step``: the charts append these instead of redrawing everything."""
    return store.metrics(run_id, since_step=step)


def run_config(store: RunStore, run_id: str) -> RunConfig:
    return store.get(run_id).config


def run_summary(store: RunStore, run_id: str) -> dict | None:
    return store.get(run_id).summary


class MetricsFeed:
    """All metric rows of one run, fetched incrementally: each ``poll()`` reads only the
    rows written since the last one (by row id), so a live chart costs one small query."""

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id = store, run_id
        self.rows: list[dict] = []
        self._last_id = 0

    def poll(self) -> list[dict]:
        new = self.store.metrics(self.run_id, after_id=self._last_id)
        if new:
            self.rows.extend(new)
            self._last_id = new[-1]["id"]
        return self.rows


@dataclass(frozen=True)
class Progress:
    step: int
    total_steps: int | None
    epoch: int  # epochs finished
    epochs: int | None
    eta_s: float | None  # None until two steps of this session of training are known

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


def progress(rows: list[dict], status: str) -> Progress:
    """How far a run is and, from its recent pace, how long it has left."""
    def last(split, name):
        values = [r for r in rows if r["split"] == split and r["name"] == name]
        return values[-1] if values else None
    spe, epochs = last("run", "steps_per_epoch"), last("run", "epochs")
    total = int(spe["value"] * epochs["value"]) if spe and epochs else None
    steps = [r for r in rows if r["split"] == "train" and r["name"] == "loss"]
    step = steps[-1]["step"] if steps else 0
    done = max([r["epoch"] for r in rows if r["split"] == "epoch"], default=0)
    eta = None
    if total and spe and steps and status in ("running", "stopping"):
        # Pace since the last (re)start, evaluation pauses included: steps per second of wall time.
        seconds = steps[-1]["time"] - spe["time"]
        if step > spe["step"] and seconds > 0:
            eta = (total - step) * seconds / (step - spe["step"])
    return Progress(step, total, done, int(epochs["value"]) if epochs else None, eta)


def waiting_for_slot(rows: list[dict]) -> bool:
    """The run's worker waits for a heavy slot (tlcore.jobs.slots) and has not started yet."""
    waits = [r for r in rows if r["split"] == "run" and r["name"] == "waiting_for_slot"]
    return bool(waits) and not any(r["split"] == "run" and r["name"] == "steps_per_epoch" and r["id"] > waits[-1]["id"]
                                   for r in rows)


def target_test_predictions(store: RunStore, run_id: str) -> dict | None:
    """The latest target test predictions with thumbnails, for the misclassified gallery:
    {epoch, class_names, ids, true, pred, confidence, thumbs (N, 64, 64, 3) or None}."""
    files = store.get(run_id).files
    preds, test_set = files.test_predictions(), files.test_set()
    if preds is None or test_set is None:
        return None
    return {**preds, "class_names": test_set.class_names, "ids": test_set.ids, "thumbs": files.test_thumbs()}


def instance_weights(store: RunStore, run_id: str) -> list[float] | None:
    artifact = store.get(run_id).files.artifact("instance_weights.json")
    return artifact.get("weights") if isinstance(artifact, dict) else None


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "params":
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = json.dumps(v, sort_keys=True) if isinstance(v, dict) else v
    return out


def config_table(store: RunStore, run_ids: list[str]) -> tuple[list[dict], set[str]]:
    """Config settings of several runs, one row per setting (columns: the runs), and the
    settings that differ between them."""
    flat = {}
    for run_id in run_ids:
        config = json.loads(store.get(run_id).config_json)
        config.pop("environment", None)
        flat[run_id] = _flatten(config)
    keys = sorted(set().union(*flat.values())) if flat else []
    rows = [{"setting": k, **{r: flat[r].get(k) for r in run_ids}} for k in keys]
    differ = {row["setting"] for row in rows if len({json.dumps(row[r]) for r in run_ids}) > 1}
    return rows, differ
