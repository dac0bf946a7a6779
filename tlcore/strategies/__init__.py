"""Transfer strategies: one file per method, each registering itself with its metadata.
Importing this imports every module of the package, so a new method is one new file (see
CONTRIBUTING.md)."""
from ..registry import import_submodules
from .base import (AdaptationStrategy, Strategy, StrategyInfo, create_strategy, freeze_for, list_strategies,
                   register_strategy, step_metric_labels, strategy_info)

import_submodules(__name__, __path__)

__all__ = ["AdaptationStrategy", "Strategy", "StrategyInfo", "create_strategy", "freeze_for", "list_strategies",
           "register_strategy", "step_metric_labels", "strategy_info"]
