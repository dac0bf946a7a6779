"""The live feature map of a run (RunConfig.feature_map): the probe set's features before
training (the pretrained view) and every k epochs and at the end, with a UMAP layout by a
process beside the run (tlcore.embed), in the run folder's snapshots/."""
from __future__ import annotations

from ..embed.probe import FeatureSnapshots
from ..run_folder import RunFolder
from ..train.events import EpochEnded, RunEnded, RunStarted


class FeatureMaps:
    def __init__(self, folder: RunFolder):
        self.folder = folder
        self.maps: FeatureSnapshots | None = None

    def __call__(self, event) -> None:
        if isinstance(event, RunStarted):
            self._start(event)
        elif isinstance(event, EpochEnded) and self.maps is not None:
            if self.maps.due(event.epoch, last=event.final):
                self.maps.take(event.epoch, self.strategy, self.cached)
        elif isinstance(event, RunEnded) and self.maps is not None:
            self.maps.close()  # the layout process finishes what is pending, then exits

    def _start(self, event: RunStarted) -> None:
        cfg = event.context.config.feature_map
        if cfg.every < 1 or cfg.per_domain < 1:
            return
        self.strategy, self.cached = event.strategy, event.feature_cache
        self.maps = FeatureSnapshots(self.folder.snapshots, event.context, event.strategy, cfg.per_domain, cfg.every,
                                     start_layout=cfg.layout == "umap")
        if not self.maps.has(event.first_epoch):  # before training, or where a resumed run left off
            self.maps.take(event.first_epoch, event.strategy, event.feature_cache)
