"""The one training loop, its data plumbing, feature cache, checkpoints and events."""
from .context import ConfigError, TrainContext, validate_config
from .events import EpochEnded, EpochStarted, LogMessage, RunEnded, RunStarted, StepEnded
from .loop import TrainResult, train

__all__ = ["ConfigError", "EpochEnded", "EpochStarted", "LogMessage", "RunEnded", "RunStarted", "StepEnded",
           "TrainContext", "TrainResult", "train", "validate_config"]
