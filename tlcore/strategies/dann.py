"""DANN (Ganin et al., JMLR 2016): a domain discriminator behind a gradient reversal
layer makes the features domain-invariant while the source labels keep them useful."""
import torch
import torch.nn.functional as F
from torch import nn

from .base import DA_DEFAULTS, DA_HELP, AdaptationStrategy, StrategyInfo, register_strategy
from .losses import GradientReversal, dann_lambda


@register_strategy
class DANN(AdaptationStrategy):
    info = StrategyInfo(
        name="dann", family="domain adaptation",
        description="Adversarial adaptation: a domain discriminator behind a gradient reversal layer",
        needs_source=True, needs_target_labels=False, recommended_freeze="none",
        semi_supervised=True, uses_unlabelled_target=True,
        metrics={"domain_loss": "domain loss", "domain_acc": "discriminator accuracy", "lambda": "GRL lambda"},
        defaults={**DA_DEFAULTS, "hidden": 100, "max_lambda": 1.0, "gamma": 10.0},
        help={**DA_HELP, "hidden": "width of the discriminator's hidden layer (the paper's digits: 100)",
              "max_lambda": "final weight of the adversarial loss (ramped up from 0)",
              "gamma": "steepness of the lambda ramp 2/(1+exp(-gamma p))-1"})

    def __init__(self, backbone, num_classes, params=None, freeze="none", bn_policy="freeze"):
        super().__init__(backbone, num_classes, params, freeze, bn_policy)
        h = int(self.hp["hidden"])
        self.discriminator = nn.Sequential(nn.Linear(backbone.feature_dim, h), nn.ReLU(inplace=True),
                                           nn.Linear(h, 2))
        self.grl = GradientReversal()

    def training_step(self, batch, progress):
        loss, parts, f_s, f_t = self.supervised_and_features(batch)
        lambd = self.hp["max_lambda"] * dann_lambda(progress, self.hp["gamma"])
        logits = self.discriminator(self.grl(torch.cat([f_s, f_t]), lambd))
        domain = torch.cat([torch.zeros(len(f_s)), torch.ones(len(f_t))]).long().to(logits.device)
        domain_loss = F.cross_entropy(logits, domain)
        return {"loss": loss + domain_loss, **{k: v.detach() for k, v in parts.items()},
                "domain_loss": domain_loss.detach(),
                "domain_acc": (logits.argmax(1) == domain).float().mean().detach(),
                "lambda": torch.tensor(lambd)}
