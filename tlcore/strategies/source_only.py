"""Train on the labelled source only; evaluate on the target. Every adaptation result is
compared with this baseline."""
from .base import Strategy, StrategyInfo, register_strategy


@register_strategy
class SourceOnly(Strategy):
    info = StrategyInfo(
        name="source_only", family="baseline",
        description="Train on the labelled source only and test on the target: the no-adaptation baseline",
        needs_source=True, needs_target_labels=False, cacheable=True,
        linear_head_data=("source_train",))

    def training_step(self, batch, progress):
        return self.supervised_step(batch, "src")
