"""Train on the labelled source only; evaluate on the target. Every adaptation result is
compared with this baseline."""
from .base import Strategy, StrategyInfo, accuracy, register_strategy


@register_strategy
class SourceOnly(Strategy):
    info = StrategyInfo(
        name="source_only", family="baseline",
        description="Train on the labelled source only and test on the target: the no-adaptation baseline",
        needs_source=True, needs_target_labels=False, cacheable=True)

    def training_step(self, batch, progress):
        loss, _, logits = self.classify(batch["src_x"], batch["src_y"])
        return {"loss": loss, "cls_loss": loss.detach(), "src_acc": accuracy(logits, batch["src_y"])}
