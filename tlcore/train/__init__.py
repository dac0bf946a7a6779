"""The one training loop: steps, epochs, evaluation, events. Who listens is the caller's
choice (tlcore.listeners, tlcore.fitting, the run worker).

The names load on first use, so a light module of this package (the optimiser and schedule
registry in ``optim``, which the CLI lists) can be imported without torch.
"""
from importlib import import_module

_WHERE = {"ConfigError": "context", "TrainContext": "context", "validate_config": "context",
          "EpochEnded": "events", "EpochStarted": "events", "LogMessage": "events", "RunEnded": "events",
          "RunStarted": "events", "StepEnded": "events", "TrainResult": "loop", "train": "loop"}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value
