"""CDAN+E (Long et al., NeurIPS 2018): a domain discriminator on the features conditioned on
the predictions (their multilinear map), behind a gradient reversal layer, each sample's
domain loss weighted by its prediction's certainty (entropy conditioning). As in the
official code and TLlib, the predictions in the map are detached, and above 4,096
dimensions the randomised multilinear map (1,024 wide) replaces the full one."""
import torch
import torch.nn.functional as F
from torch import nn

from .base import DA_DEFAULTS, DA_HELP, AdaptationStrategy, StrategyInfo, accuracy, register_strategy
from .losses import GradientReversal, cdan_entropy_weights, cdan_features, dann_lambda

FULL_MAP_MAX = 4096
RANDOM_MAP_DIM = 1024


@register_strategy
class CDAN(AdaptationStrategy):
    info = StrategyInfo(
        name="cdan", family="domain adaptation",
        description="Conditional adversarial adaptation with entropy weighting (CDAN+E)",
        needs_source=True, needs_target_labels=False, recommended_freeze="none",
        semi_supervised=True, uses_unlabelled_target=True,
        metrics={"domain_loss": "domain loss", "domain_acc": "discriminator accuracy", "lambda": "GRL lambda"},
        defaults={**DA_DEFAULTS, "hidden": 256, "max_lambda": 1.0, "entropy": True},
        help={**DA_HELP, "hidden": "width of the discriminator's two hidden layers (the paper: 1024)",
              "max_lambda": "final weight of the adversarial loss (ramped up from 0 as in DANN)",
              "entropy": "weight each sample's domain loss by 1 + exp(-entropy) of its prediction (CDAN+E)"})

    def __init__(self, backbone, num_classes, params=None, freeze="none", bn_policy="freeze"):
        super().__init__(backbone, num_classes, params, freeze, bn_policy)
        d, h = backbone.feature_dim, int(self.hp["hidden"])
        full = d * num_classes <= FULL_MAP_MAX
        width = d * num_classes if full else RANDOM_MAP_DIM
        if not full:  # fixed random matrices: buffers, saved with the run, never trained
            g = torch.Generator().manual_seed(0)
            self.register_buffer("r_f", torch.randn(d, width, generator=g))
            self.register_buffer("r_g", torch.randn(num_classes, width, generator=g))
        self.full_map = full
        self.discriminator = nn.Sequential(nn.Linear(width, h), nn.ReLU(inplace=True), nn.Dropout(0.5),
                                           nn.Linear(h, h), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(h, 1))
        self.grl = GradientReversal()

    def training_step(self, batch, progress):
        loss, parts, f_s, f_t = self.supervised_and_features(batch)
        f = torch.cat([f_s, f_t])
        p = self.backbone.forward_head(f).softmax(1).detach()
        lambd = self.hp["max_lambda"] * dann_lambda(progress)
        mapped = cdan_features(f, p, None if self.full_map else (self.r_f, self.r_g))
        logits = self.discriminator(self.grl(mapped, lambd))[:, 0]
        domain = torch.cat([torch.zeros(len(f_s)), torch.ones(len(f_t))]).to(logits.device)
        weight = cdan_entropy_weights(p, len(f_s)) if self.hp["entropy"] else None
        domain_loss = F.binary_cross_entropy_with_logits(logits, domain, weight=weight)
        return {"loss": loss + domain_loss, **{k: v.detach() for k, v in parts.items()},
                "domain_loss": domain_loss.detach(), "domain_acc": accuracy(torch.stack([-logits, logits], 1),
                                                                             domain.long()),
                "lambda": torch.tensor(lambd)}
