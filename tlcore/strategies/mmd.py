"""DAN-style multi-kernel MMD (Long et al. 2015) between source and target features."""
from .alignment import ALIGN_HELP, AlignmentStrategy
from .base import DA_DEFAULTS, StrategyInfo, register_strategy
from .losses import MMDLoss


@register_strategy
class MMD(AlignmentStrategy):
    info = StrategyInfo(
        name="mmd", family="feature-based",
        description="Minimise the multi-kernel Gaussian MMD between source and target features (DAN)",
        needs_source=True, needs_target_labels=False, recommended_freeze="none",
        semi_supervised=True, uses_unlabelled_target=True,
        metrics={"mmd_loss": "MMD loss", "align_weight": "alignment weight"},
        defaults={**DA_DEFAULTS, "weight": 1.0, "ramp": True}, help=ALIGN_HELP)
    loss_name = "mmd_loss"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.align = MMDLoss()
