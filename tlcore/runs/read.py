"""The read side the dashboard polls: cheap queries, nothing that blocks a writer."""
from __future__ import annotations

import json
from pathlib import Path

from ..config import RunConfig
from .jobs import reconcile
from .store import RunStore

HEADLINE = ("target.test.accuracy", "target.test.macro_f1", "before.target.test.accuracy")


def overview(run: dict) -> dict:
    """One row per run: what it is, how it stands, its headline numbers."""
    config = json.loads(run["config"])
    summary = run["summary"] or {}
    return {"id": run["id"], "name": run["name"], "status": run["status"], "created": run["created"],
            "strategy": config["strategy"]["name"], "backbone": config["model"]["backbone"],
            "target": config["data"]["target"], "source": config["data"]["source"],
            **{k: summary.get(k) for k in HEADLINE}, "error": run["error"], "folder": run["folder"]}


def list_overviews(store: RunStore) -> list[dict]:
    reconcile(store)  # a dead worker shows as failed the moment anyone looks
    return [overview(r) for r in store.list_runs()]


def metrics_since(store: RunStore, run_id: str, step: int = -1) -> list[dict]:
    """Rows newer than ``step``: the charts append these instead of redrawing everything."""
    return store.metrics(run_id, since_step=step)


def run_config(store: RunStore, run_id: str) -> RunConfig:
    return RunConfig.from_json(store.get(run_id)["config"])


def run_summary(store: RunStore, run_id: str) -> dict | None:
    return store.get(run_id)["summary"]


def latest_snapshot(store: RunStore, run_id: str) -> Path | None:
    """The newest feature-map snapshot file of the run (written by the embedding step), if any."""
    folder = Path(store.get(run_id)["folder"]) / "snapshots"
    files = sorted(folder.glob("*"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    return files[-1] if files else None
