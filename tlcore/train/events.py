"""What the training loop reports. The loop never knows who listens: a listener is any
callable that takes one event (tlcore.listeners: the run folder's files, checkpoints, the
feature map; the run store's recorder; the CLI's progress bar; MLflow).

RunStarted also hands listeners the live objects of the run (its context, strategy,
optimiser and schedule), as a trainer hands itself to callbacks: a checkpoint listener saves
them, the feature-map listener runs the strategy over its probe images."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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
    first_epoch: int = 0  # >0 when resumed: epochs already done
    context: Any = field(default=None, repr=False, compare=False)  # tlcore.train.context.TrainContext
    strategy: Any = field(default=None, repr=False, compare=False)  # the Strategy module being trained
    optimizer: Any = field(default=None, repr=False, compare=False)
    scheduler: Any = field(default=None, repr=False, compare=False)
    memory_format: str = "contiguous"  # of images and convolution weights (tlcore.devices.choose_memory_format)


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
    metrics: dict[str, Any]  # "target.val.accuracy" -> value, etc. (empty when not evaluated)
    seconds: float
    best: bool
    final: bool = False  # the last epoch of the run (its end, a stop or an early stop)
    # What a checkpoint needs to resume the loop: epoch, history, best_value, best_epoch.
    loop_state: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class LogMessage:
    text: str
    level: str = "info"


@dataclass(frozen=True)
class RunEnded:
    status: str  # finished | stopped | failed
    summary: dict[str, Any]
    error: str | None = None


Listener = Callable[[object], None]
