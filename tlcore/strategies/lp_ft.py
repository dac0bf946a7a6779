"""LP-FT (Kumar et al., ICLR 2022): train the head alone first (linear probe), then
fine-tune under the freeze plan at a lower learning rate, so the random head does not
distort the pretrained features early on."""
from ..freezing import apply_freeze
from .base import StrategyInfo, register_strategy
from .finetune import FineTune


@register_strategy
class LinearProbeThenFineTune(FineTune):
    info = StrategyInfo(
        name="lp_ft", family="model-based",
        description="Linear probe first, then fine-tune the freeze plan's stages at a lower LR (LP-FT)",
        needs_source=False, needs_target_labels=True, recommended_freeze="none",
        defaults={"probe_fraction": 0.5, "finetune_lr_scale": 0.1, "fixed_bn": True},
        help={"probe_fraction": "share of the epochs spent as a linear probe",
              "finetune_lr_scale": "LR multiplier in the fine-tuning phase",
              "fixed_bn": "keep BatchNorm statistics fixed in both phases, so unfreezing does not shift "
                          "the features the probed head was trained on"})

    def on_epoch_start(self, epoch, epochs):
        probe_epochs = max(1, round(epochs * self.hp["probe_fraction"]))
        if epoch < probe_epochs:
            apply_freeze(self.backbone, "all", self.bn_policy)
            self.lr_scale = 1.0
            return "phase 1: linear probe (backbone frozen)"
        apply_freeze(self.backbone, self.freeze, self.bn_policy)
        self.lr_scale = self.hp["finetune_lr_scale"]
        return f"phase 2: fine-tuning ({self.freeze}) at {self.lr_scale:g}x LR"
