"""MME (Saito et al., ICCV 2019): Minimax Entropy for semi-supervised domain adaptation. On
the labelled source and the few labelled target images, cross-entropy; on the unlabelled
target, the entropy of the predictions is MAXIMISED by the classifier (its weights move
towards the target's features) and MINIMISED by the feature extractor (the features
cluster around those weights), one loss through a gradient reversal layer between them as
in the official code (loss_t = adentropy(F1, feat, lamda)).

Stated deviation: the paper's classifier is a cosine classifier at temperature 0.05 on
L2-normalised features; here the head stays the backbone's linear head, so prediction,
export and every other page use the network the way it was trained."""
import torch

from .base import DA_DEFAULTS, DA_HELP, AdaptationStrategy, StrategyInfo, register_strategy
from .losses import GradientReversal, entropy


@register_strategy
class MME(AdaptationStrategy):
    info = StrategyInfo(
        name="mme", family="domain adaptation",
        description="Minimax entropy for a few target labels: the head maximises the target's prediction "
                    "entropy, the features minimise it (MME)",
        needs_source=True, needs_target_labels=True, recommended_freeze="none",
        semi_supervised=True, uses_unlabelled_target=True, metrics={"target_entropy": "target prediction entropy"},
        defaults={**DA_DEFAULTS, "lambda": 0.1},
        help={**DA_HELP, "lambda": "weight of the minimax entropy term (the paper: 0.1)"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grl = GradientReversal()

    def training_step(self, batch, progress):
        loss, parts, _, f_t = self.supervised_and_features(batch)
        h = mme_entropy(self.backbone.forward_head, self.grl, f_t)
        # The head descends on -lambda H (it maximises H); the reversal makes the features
        # descend on +lambda H (they minimise it).
        return {"loss": loss - self.hp["lambda"] * h, **{k: v.detach() for k, v in parts.items()},
                "target_entropy": h.detach()}


def mme_entropy(head, grl: GradientReversal, f_t: torch.Tensor) -> torch.Tensor:
    """Mean prediction entropy of the target features, behind a gradient reversal layer."""
    return entropy(head(grl(f_t, 1.0)).softmax(1)).mean()
