"""AdaBN (Li et al. 2016): train on the source, then evaluate the target with BatchNorm
statistics re-estimated on target images. A cheap baseline every DA comparison needs."""
import copy

import torch

from .base import Strategy, StrategyInfo, register_strategy, target_statistics_copy


@register_strategy
class AdaBN(Strategy):
    info = StrategyInfo(
        name="adabn", family="domain adaptation",
        description="Source training, then BatchNorm statistics re-estimated on the target (AdaBN)",
        needs_source=True, needs_target_labels=False, recommended_freeze="none")
    adapts_at_eval = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._target_model = None

    def training_step(self, batch, progress):
        return self.supervised_step(batch, "src")

    @torch.no_grad()
    def adapt_for_eval(self, target_images):
        self._target_model = target_statistics_copy(self.backbone, target_images)

    def load_eval_state(self, state):
        model = super().load_eval_state(state)
        prefix = "_target_model."  # the target-statistics copy, present once it was evaluated
        if any(k.startswith(prefix) for k in state):
            self._target_model = copy.deepcopy(self.backbone).eval()
            self._target_model.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
            model = self._target_model
        return model

    def eval_model(self, domain):
        if domain == "target" and self._target_model is not None:
            return self._target_model
        return self.backbone
