"""A run's folder: the only code that knows the names of the files in it.

A run folder (RUNS/RUN_ID, or what ``--out`` names) holds what the run's listeners write
while it trains and what every later reader needs: the dashboard, Predict, Grad-CAM, the
exports, a replay. Every write is atomic (tlcore.atomic), so a reader sees an old file or
the new one. The files of the feature map inside ``snapshots/`` are tlcore.embed.snapshots'
(the same format serves the pretrained map, which is not a run).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import save_npy, write_json, write_text
from .config import RunConfig


@dataclass(frozen=True)
class TestSetRecord:
    """The run's target test images as the dashboard lists them: class names and image ids
    in the order the predictions are reported."""
    class_names: list[str]
    ids: list[str]


class RunFolder:
    CONFIG = "config.json"  # the run's own RunConfig, with the environment it ran in
    SUMMARY = "summary.json"  # the final numbers (tlcore.train.summary)
    SPLIT = "target_split.json"  # image id -> train/val/test of the target set
    METRICS = "metrics.jsonl"  # every step's losses and every epoch's metrics
    LOG = "worker.log"  # the worker process's output
    TEST_SET = "target_test.json"  # TestSetRecord
    TEST_THUMBS = "target_test_thumbs.npy"  # 64 px thumbnails of the target test images
    TEST_PREDICTIONS = "target_test_predictions.json"  # the latest evaluated epoch's
    CHECKPOINTS = "checkpoints"
    LEADERBOARD = "leaderboard.json"  # a recipe search's candidates, live (tlcore.runs.search_run)
    CANDIDATES = "candidates"  # a recipe search's candidate runs, one folder each
    SNAPSHOTS = "snapshots"
    EXPORTS = "exports"
    # Inside checkpoints/: the last epoch's weights, optimiser state and loop state, and the
    # best validation epoch's weights.
    LAST_WEIGHTS, LAST_STATE, LAST_LOOP, BEST_WEIGHTS = ("last.safetensors", "last_state.pt", "last.json",
                                                         "best.safetensors")

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        return self.path / name

    def create(self) -> RunFolder:
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    # ---- the run's config and its result
    def config(self) -> RunConfig:
        """The recorded config (FileNotFoundError before the run wrote it)."""
        return RunConfig.from_json(self.file(self.CONFIG).read_text())

    def has_config(self) -> bool:
        return self.file(self.CONFIG).exists()

    def write_config(self, config: RunConfig) -> None:
        write_text(self.file(self.CONFIG), config.to_json())

    def summary(self) -> dict | None:
        return _read_json(self.file(self.SUMMARY))

    def write_summary(self, summary: dict) -> None:
        write_json(self.file(self.SUMMARY), summary, indent=2)

    def write_split(self, splits: dict[str, str]) -> None:
        write_json(self.file(self.SPLIT), splits)

    # ---- checkpoints
    @property
    def checkpoints(self) -> Path:
        return self.file(self.CHECKPOINTS)

    def checkpoint(self, which: str = "best") -> Path | None:
        """The weights a reader of the run loads: ``which`` (best or last), else the last
        epoch's; None before the run saved any (it saves one after each epoch)."""
        for name in (which, "last"):
            path = self.checkpoints / f"{name}.safetensors"
            if path.exists():
                return path
        return None

    def last_epoch_saved(self) -> int | None:
        loop = _read_json(self.checkpoints / self.LAST_LOOP)
        return loop.get("epoch") if isinstance(loop, dict) else None

    # ---- what the dashboard reads while the run trains
    def test_set(self) -> TestSetRecord | None:
        raw = _read_json(self.file(self.TEST_SET))
        return TestSetRecord(list(raw["class_names"]), list(raw["ids"])) if raw else None

    def write_test_set(self, record: TestSetRecord, thumbs: np.ndarray) -> None:
        save_npy(self.file(self.TEST_THUMBS), thumbs)
        write_json(self.file(self.TEST_SET), {"class_names": record.class_names, "ids": record.ids})

    def test_thumbs(self) -> np.ndarray | None:
        path = self.file(self.TEST_THUMBS)
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None

    def test_predictions(self) -> dict | None:
        """{epoch, true, pred, confidence} of the latest evaluated epoch."""
        return _read_json(self.file(self.TEST_PREDICTIONS))

    def write_test_predictions(self, epoch: int, predictions: dict) -> None:
        write_json(self.file(self.TEST_PREDICTIONS), {"epoch": epoch, **predictions})

    def leaderboard(self) -> dict | None:
        """{phase, budget_s, started, candidates: [row...], winner...} of a recipe search."""
        return _read_json(self.file(self.LEADERBOARD))

    def write_leaderboard(self, board: dict) -> None:
        write_json(self.file(self.LEADERBOARD), board)

    def artifact(self, name: str):
        """A strategy's artifact (e.g. instance_weights.json), or None."""
        return _read_json(self.file(_plain_name(name)))

    def write_artifact(self, name: str, content) -> None:
        write_json(self.file(_plain_name(name)), content)

    # ---- files other parts own the format of
    @property
    def snapshots(self) -> Path:
        return self.file(self.SNAPSHOTS)

    @property
    def metrics_file(self) -> Path:
        return self.file(self.METRICS)

    def metric_lines(self) -> list[dict]:
        """The metrics file's objects, one a line ({kind: step|epoch, epoch, step, NAME: value...});
        a line cut short by a crash mid-write is skipped."""
        lines = self.metrics_file.read_text().splitlines() if self.metrics_file.exists() else []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def metric_rows(self) -> list[dict]:
        """The metrics file as the run store's rows ({step, epoch, split, name, value}), so the
        store's figures draw a run that has only its folder (a bundled lesson, a copied run).
        An epoch's numbers take the step it ended on."""
        rows, step = [], 0
        for row in self.metric_lines():
            step, epoch = row.get("step", step), row.get("epoch", 0)
            for key, value in row.items():
                if key in ("kind", "epoch", "step", "seconds") or not isinstance(value, (int, float)):
                    continue
                split, _, name = ("train", "", key) if row.get("kind") == "step" else key.rpartition(".")
                rows.append({"step": step, "epoch": epoch, "split": split, "name": name, "value": float(value)})
        return rows

    @property
    def log(self) -> Path:
        return self.file(self.LOG)

    def export(self, name: str) -> Path:
        """exports/NAME: where the run's exported models and bundle go."""
        return self.file(self.EXPORTS) / _plain_name(name)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _plain_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"not a plain file name: {name!r}")
    return name


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
