"""Joint supervised training on labelled source and target images, the source down-weighted."""
from .base import Strategy, StrategyInfo, accuracy, register_strategy


@register_strategy
class Joint(Strategy):
    info = StrategyInfo(
        name="joint", family="model-based",
        description="One supervised loss over labelled source and target images, the source weighted",
        needs_source=True, needs_target_labels=True, cacheable=True,
        defaults={"source_weight": 0.5},
        help={"source_weight": "weight of the source loss relative to the target loss"})

    def training_step(self, batch, progress):
        tgt_loss, _, logits = self.classify(batch["tgt_x"], batch["tgt_y"])
        src_loss, _, _ = self.classify(batch["src_x"], batch["src_y"])
        loss = tgt_loss + self.hp["source_weight"] * src_loss
        return {"loss": loss, "cls_loss": tgt_loss.detach(), "src_cls_loss": src_loss.detach(),
                "train_acc": accuracy(logits, batch["tgt_y"])}
