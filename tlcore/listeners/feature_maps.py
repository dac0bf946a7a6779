"""The live feature map of a run (RunConfig.feature_map): the probe set's features before
training (the pretrained view) and every k epochs and at the end, with a UMAP layout by a
process beside the run (tlcore.embed), in the run folder's snapshots/."""
from __future__ import annotations

import torch

from ..embed.probe import FeatureSnapshots
from ..run_folder import RunFolder
from ..train.events import EpochEnded, RunEnded, RunStarted


class FeatureMaps:
    def __init__(self, folder: RunFolder):
        self.folder = folder
        self.maps: FeatureSnapshots | None = None
        self.initial: _Initial | None = None  # the epoch-0 snapshot still to take

    def __call__(self, event) -> None:
        if isinstance(event, RunStarted):
            self._start(event)
        elif isinstance(event, EpochEnded) and self.maps is not None:
            self._take_initial()
            if self.maps.due(event.epoch, last=event.final):
                self.maps.take(event.epoch, self.strategy, self.cached)
        elif isinstance(event, RunEnded) and self.maps is not None:
            self._take_initial()
            self.maps.close()  # the layout process finishes what is pending, then exits

    def _take_initial(self) -> None:
        """The pretrained view (epoch 0), from the copy of the network the run kept before its
        first step: taken once the first epoch has ended, so it is not on the path to the first
        step (a 2,000-image probe is seconds of forward passes on a CPU)."""
        if self.initial is not None:
            self.maps.take(0, self.initial, self.cached)
            self.initial = None

    def _start(self, event: RunStarted) -> None:
        cfg = event.context.config.feature_map
        if cfg.every < 1 or cfg.per_domain < 1:
            return
        self.strategy, self.cached = event.strategy, event.feature_cache
        self.maps = FeatureSnapshots(self.folder.snapshots, event.context, event.strategy, cfg.per_domain, cfg.every,
                                     start_layout=cfg.layout == "umap")
        initial_model = getattr(event.context, "initial_model", None)
        if event.first_epoch == 0 and initial_model is not None and not self.maps.has(0):
            self.initial = _Initial(initial_model)
        elif not self.maps.has(event.first_epoch):  # where a resumed run left off
            self.maps.take(event.first_epoch, event.strategy, event.feature_cache)


class _Initial(torch.nn.Module):
    """The network before its first step, as FeatureSnapshots.take reads a strategy."""

    def __init__(self, backbone: torch.nn.Module):
        super().__init__()
        self.backbone = backbone

    def eval_model(self, domain: str) -> torch.nn.Module:
        return self.backbone
