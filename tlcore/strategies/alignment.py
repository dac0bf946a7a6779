"""Feature alignment: CORAL and MMD between source and target features, their weight
ramped up from 0 (a large alignment weight early on wrecks the features)."""
import torch

from .base import DA_HELP, AdaptationStrategy
from .losses import dann_lambda

ALIGN_HELP = {**DA_HELP, "weight": "final weight of the alignment loss (ramped up from 0)",
              "ramp": "ramp the weight up like DANN's lambda (true) or use it from the start"}


class AlignmentStrategy(AdaptationStrategy):
    align: torch.nn.Module
    loss_name: str

    def training_step(self, batch, progress):
        loss, parts, f_s, f_t = self.supervised_and_features(batch)
        weight = self.hp["weight"] * (dann_lambda(progress) if self.hp["ramp"] else 1.0)
        align = self.align(f_s, f_t)
        return {"loss": loss + weight * align, **{k: v.detach() for k, v in parts.items()},
                self.loss_name: align.detach(), "align_weight": torch.tensor(weight)}
