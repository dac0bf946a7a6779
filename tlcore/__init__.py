"""TL Studio's core: transfer learning for image recognition, without the dashboard.

From Python (a notebook, a script), the same core in a few lines::

    from tlcore import DataConfig, RunConfig, ScheduleConfig, fit
    result = fit(RunConfig(data=DataConfig(target="syndigits", per_class=20, image_size=32),
                           schedule=ScheduleConfig(epochs=2)), out_dir="runs/notebook")
    result.summary["target.test.accuracy"], result.model

The names below are imported on first use, so ``import tlcore`` (and the CLI's light
commands) do not pay for torch. ``fit`` trains in this process and writes the run folder
(``tlcore.fitting``: a module named apart from the function, since importing a submodule
``tlcore.fit`` would replace the package's ``fit`` with it); ``tlcore.train.train`` is
the bare loop under it.
"""
from __future__ import annotations

import importlib

_API = {
    # configuration: one RunConfig describes a whole run and round-trips through JSON
    "RunConfig": "config", "DataConfig": "config", "ModelConfig": "config", "StrategyConfig": "config",
    "OptimConfig": "config", "ScheduleConfig": "config", "FeatureMapConfig": "config",
    # training and using the result
    "fit": "fitting", "TrainResult": "train.loop", "Predictor": "predict",
    # what there is to choose from
    "list_backbones": "backbones", "backbone_info": "backbones", "create_backbone": "backbones",
    "list_strategies": "strategies", "strategy_info": "strategies",
    "list_domains": "data", "load_domain": "data", "load_image_set": "data",
    # before training: is this data set worth it?
    "run_feasibility": "feasibility.report",
}
__all__ = sorted(_API)


def __getattr__(name: str):
    where = _API.get(name)
    if where is None:
        raise AttributeError(f"module 'tlcore' has no attribute {name!r}")
    module, attr = (where, name) if isinstance(where, str) else where
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_API))
