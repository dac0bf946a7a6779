"""Gradual unfreezing (ULMFiT): start as a linear probe, unfreeze one more stage from the
top every k epochs until the freeze plan's trainable stages are all training."""
from ..freezing import apply_freeze, parse_freeze_spec
from .base import StrategyInfo, register_strategy
from .finetune import FineTune


@register_strategy
class GradualUnfreeze(FineTune):
    info = StrategyInfo(
        name="gradual_unfreeze", family="model-based",
        description="Start with every stage frozen; unfreeze one more stage from the top every k epochs",
        needs_source=False, needs_target_labels=True, recommended_freeze="none",
        defaults={"every": 1, "fixed_bn": True},
        help={"every": "epochs between two unfreezing steps",
              "fixed_bn": "keep BatchNorm statistics fixed, so each unfreezing step does not shift the features"})

    def setup(self, context):
        super().setup(context)
        stages = [s for s in self.backbone.stage_names() if s != "head"]
        final_frozen, _ = parse_freeze_spec(self.freeze, self.backbone)
        # Stages that will train by the end, top (last) first.
        self._order = [s for s in reversed(stages) if s not in final_frozen]
        self._stages = stages
        apply_freeze(self.backbone, set(stages), self.bn_policy)

    def on_epoch_start(self, epoch, epochs):
        k = min(epoch // max(int(self.hp["every"]), 1), len(self._order))
        trainable = set(self._order[:k])
        apply_freeze(self.backbone, {s for s in self._stages if s not in trainable}, self.bn_policy)
        return f"training stages: {', '.join(sorted(trainable)) or 'head only'}"
