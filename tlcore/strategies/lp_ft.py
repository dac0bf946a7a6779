"""LP-FT (Kumar et al., ICLR 2022): train the head alone first (linear probe), then
fine-tune under the freeze plan at a lower learning rate, so the random head does not
distort the pretrained features early on.

With OptimConfig.head_solver "lbfgs" (the default) the probe phase is solved, not trained:
the head starts fine-tuning from the optimal linear head on the pretrained features (the
before-transfer probe's), and every epoch fine-tunes. "sgd" keeps the probe epochs."""
import torch

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
        help={"probe_fraction": "share of the epochs spent as a linear probe (head_solver sgd only: lbfgs "
                                "solves the probe before the first epoch)",
              "finetune_lr_scale": "LR multiplier in the fine-tuning phase",
              "fixed_bn": "keep BatchNorm statistics fixed in both phases, so unfreezing does not shift "
                          "the features the probed head was trained on"})
    probe_solved = False

    def setup(self, context) -> None:
        super().setup(context)
        head = self.backbone.head
        if context.config.optim.head_solver != "lbfgs" or not isinstance(head, torch.nn.Linear):
            return
        fit = context.linear_fit(("target_labelled",))
        if fit is None:
            return
        weight, bias = fit.head.linear_weights(self.num_classes)
        with torch.no_grad():
            head.weight.copy_(weight.to(head.weight.device))
            head.bias.copy_(bias.to(head.bias.device))
        self.probe_solved = True

    def on_epoch_start(self, epoch, epochs):
        probe_epochs = 0 if self.probe_solved else max(1, round(epochs * self.hp["probe_fraction"]))
        if epoch < probe_epochs:
            apply_freeze(self.backbone, "all", self.bn_policy)
            self.lr_scale = 1.0
            return "phase 1: linear probe (backbone frozen)"
        apply_freeze(self.backbone, self.freeze, self.bn_policy)
        self.lr_scale = self.hp["finetune_lr_scale"]
        start = "from the optimal linear head, " if self.probe_solved else ""
        return f"phase 2: fine-tuning ({self.freeze}) {start}at {self.lr_scale:g}x LR"
