"""What the training loop reports. The loop never knows who listens: a callback is any
callable that takes one event (the CLI's progress bar, a JSONL writer, the run store)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class RunStarted:
    device: str
    precision: str
    params: int
    trainable: int
    steps_per_epoch: int
    epochs: int
    feature_cache: bool
    first_step: int = 0  # >0 when resumed: the global step training continues from


@dataclass(frozen=True)
class EpochStarted:
    epoch: int  # 1-based
    message: str | None = None
    frozen: dict[str, bool] = field(default_factory=dict)  # stage -> frozen, as this epoch trains


@dataclass(frozen=True)
class StepEnded:
    epoch: int
    step: int  # global, 1-based
    values: dict[str, float] = field(default_factory=dict)  # loss and its named parts, lr


@dataclass(frozen=True)
class EpochEnded:
    epoch: int
    metrics: dict[str, Any]  # "target.val.accuracy" -> value, etc.
    seconds: float
    best: bool


@dataclass(frozen=True)
class LogMessage:
    text: str
    level: str = "info"


@dataclass(frozen=True)
class RunEnded:
    status: str  # finished | stopped | failed
    summary: dict[str, Any]
    error: str | None = None


Callback = Callable[[object], None]
