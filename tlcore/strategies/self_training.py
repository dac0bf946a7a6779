"""Self-training on the unlabelled target, FixMatch style (Sohn et al. 2020) with AdaMatch's
changes for domain adaptation (Berthelot et al., ICLR 2022): the weakly augmented target
image's prediction, when confident enough, is the label for its strongly augmented view.

AdaMatch's relative threshold (tau times the mean top probability on the source batch)
and its distribution alignment (target probabilities scaled by the ratio of the source
batch's mean prediction to the target batch's, renormalised) are on by default; both can
be switched off for plain FixMatch. The strong view is the "consistency" augmentation
(tlcore.data.augment.VIEWS: a shift and one TrivialAugmentWide operation, no flip)."""
import torch

from .base import DA_DEFAULTS, DA_HELP, AdaptationStrategy, StrategyInfo, register_strategy
from .losses import dann_lambda, masked_pseudo_label_loss


@register_strategy
class SelfTraining(AdaptationStrategy):
    info = StrategyInfo(
        name="self_training", family="domain adaptation",
        description="Self-training: confident target predictions become labels for strongly augmented views "
                    "(FixMatch / AdaMatch)",
        needs_source=True, needs_target_labels=False, recommended_freeze="none",
        semi_supervised=True, uses_unlabelled_target=True, strong_unlabelled_view=True,
        metrics={"mask_rate": "pseudo-labelled share", "pseudo_loss": "pseudo-label loss"},
        defaults={**DA_DEFAULTS, "tau": 0.9, "weight": 1.0, "relative_threshold": True,
                  "distribution_alignment": True, "ramp": True},
        help={**DA_HELP, "tau": "confidence a target prediction needs to become a label (FixMatch: 0.95, AdaMatch: "
                                "0.9 of the source's mean)",
              "weight": "final weight of the pseudo-label loss",
              "relative_threshold": "threshold = tau x the mean top probability on the source batch (AdaMatch)",
              "distribution_alignment": "align the target's mean prediction with the source's (AdaMatch)",
              "ramp": "ramp the weight up from 0 like DANN's lambda"})

    def training_step(self, batch, progress):
        loss, parts, f_s, f_t = self.supervised_and_features(batch)
        p_s = self.backbone.forward_head(f_s).softmax(1).detach()
        with torch.no_grad():
            p_t = self.backbone.forward_head(f_t).softmax(1)
            if self.hp["distribution_alignment"]:
                p_t = p_t * (p_s.mean(0) / p_t.mean(0).clamp_min(1e-6))
                p_t = p_t / p_t.sum(1, keepdim=True)
        threshold = self.hp["tau"] * (p_s.max(1).values.mean() if self.hp["relative_threshold"] else 1.0)
        logits_strong = self.backbone.forward_head(self.features(batch["tgt_u_strong"]))
        pseudo, mask = masked_pseudo_label_loss(p_t, logits_strong, threshold)
        weight = self.hp["weight"] * (dann_lambda(progress) if self.hp["ramp"] else 1.0)
        return {"loss": loss + weight * pseudo, **{k: v.detach() for k, v in parts.items()},
                "mask_rate": mask.mean().detach(), "pseudo_loss": pseudo.detach()}
