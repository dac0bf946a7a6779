"""MCC (Jin et al., ECCV 2020): Minimum Class Confusion. The source cross-entropy plus the
confusion between classes in the target's (temperature-scaled) predictions, each target
sample weighted by its certainty. It acts on predictions only, so it also adapts a frozen
trunk: the head alone moves, on the cached features."""
from .base import DA_DEFAULTS, DA_HELP, AdaptationStrategy, StrategyInfo, register_strategy
from .losses import mcc_loss


@register_strategy
class MCC(AdaptationStrategy):
    info = StrategyInfo(
        name="mcc", family="domain adaptation",
        description="Minimum class confusion: the target's predictions pushed apart between classes (MCC)",
        needs_source=True, needs_target_labels=False, recommended_freeze="none", cacheable=True,
        semi_supervised=True, uses_unlabelled_target=True, metrics={"mcc_loss": "class confusion (MCC)"},
        defaults={**DA_DEFAULTS, "weight": 1.0, "temperature": 2.5},
        help={**DA_HELP, "weight": "weight of the class-confusion loss (the paper: 1.0)",
              "temperature": "probability rescaling temperature T (the paper: 2.5)"})

    def training_step(self, batch, progress):
        loss, parts, _, f_t = self.supervised_and_features(batch)
        confusion = mcc_loss(self.backbone.forward_head(f_t), self.hp["temperature"])
        return {"loss": loss + self.hp["weight"] * confusion, **{k: v.detach() for k, v in parts.items()},
                "mcc_loss": confusion.detach()}
