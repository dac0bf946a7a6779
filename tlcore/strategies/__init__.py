"""Transfer strategies: one file per method, each registering itself with its metadata."""
from . import (adabn, coral, dann, finetune, gradual_unfreeze, instance_weighting, joint,  # noqa: F401
               lp_ft, mmd, source_only)
from .base import (AdaptationStrategy, Strategy, StrategyInfo, create_strategy, list_strategies,
                   register_strategy, strategy_info)

__all__ = ["AdaptationStrategy", "Strategy", "StrategyInfo", "create_strategy", "list_strategies",
           "register_strategy", "strategy_info"]
