"""Deep CORAL (Sun & Saenko 2016): align the covariances of source and target features."""
from .alignment import ALIGN_HELP, AlignmentStrategy
from .base import DA_DEFAULTS, StrategyInfo, register_strategy
from .losses import CoralLoss


@register_strategy
class Coral(AlignmentStrategy):
    info = StrategyInfo(
        name="coral", family="feature-based",
        description="Align second-order statistics of source and target features (Deep CORAL)",
        needs_source=True, needs_target_labels=False, recommended_freeze="none",
        semi_supervised=True, uses_unlabelled_target=True,
        metrics={"coral_loss": "CORAL loss", "align_weight": "alignment weight"},
        defaults={**DA_DEFAULTS, "weight": 1.0, "ramp": True}, help=ALIGN_HELP)
    loss_name = "coral_loss"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.align = CoralLoss()

