"""Supervised fine-tuning under the freeze plan: from a linear probe (every backbone stage
frozen) through partial to full fine-tuning, with discriminative learning rates."""
from .base import Strategy, StrategyInfo, register_strategy


@register_strategy
class FineTune(Strategy):
    info = StrategyInfo(
        name="finetune", family="model-based",
        description="Fine-tune on the labelled target under the freeze map (all frozen = linear probe)",
        needs_source=False, needs_target_labels=True, cacheable=True,
        linear_head_data=("target_labelled",))

    def training_step(self, batch, progress):
        return self.supervised_step(batch, "tgt")
