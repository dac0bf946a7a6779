"""Where a run stands: what the loop carries from epoch to epoch, what a checkpoint keeps
to resume it, and what the summary reports."""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class LoopState:
    epoch: int = 0  # epochs done
    global_step: int = 0
    history: list[dict] = field(default_factory=list)  # one record per epoch: its scalar metrics
    best_value: float = -math.inf  # of the monitored target val metric
    best_epoch: int = 0
    metrics: dict = field(default_factory=dict)  # the last evaluated epoch's, details included
    status: str = "finished"  # finished | stopped | failed
    error: str | None = None
    images_seen: int = 0
    train_seconds: float = 0.0

    def checkpoint_record(self) -> dict:
        """What a checkpoint keeps of the loop (RUN/checkpoints/last.json)."""
        return {"epoch": self.epoch, "history": self.history, "best_value": self.best_value,
                "best_epoch": self.best_epoch}

    @classmethod
    def resumed(cls, record: dict, steps_per_epoch: int) -> LoopState:
        return cls(epoch=record["epoch"], global_step=record["epoch"] * steps_per_epoch, history=record["history"],
                   best_value=record["best_value"], best_epoch=record["best_epoch"])
