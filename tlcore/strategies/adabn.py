"""AdaBN (Li et al. 2016): train on the source, then evaluate the target with BatchNorm
statistics re-estimated on target images. A cheap baseline every DA comparison needs."""
from .base import StrategyInfo, TargetStatisticsEval, register_strategy


@register_strategy
class AdaBN(TargetStatisticsEval):
    info = StrategyInfo(
        name="adabn", family="domain adaptation",
        description="Source training, then BatchNorm statistics re-estimated on the target (AdaBN)",
        needs_source=True, needs_target_labels=False, recommended_freeze="none")

    def training_step(self, batch, progress):
        return self.supervised_step(batch, "src")
