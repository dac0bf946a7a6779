"""A checkpoint after every epoch: the last epoch's weights, optimiser and schedule state and
the loop's record, and the best validation epoch's weights (tlcore.train.checkpoint)."""
from __future__ import annotations

from ..run_folder import RunFolder
from ..train.checkpoint import save_checkpoint
from ..train.events import EpochEnded, RunStarted


class Checkpoints:
    def __init__(self, folder: RunFolder):
        self.folder = folder
        self.started: RunStarted | None = None

    def __call__(self, event) -> None:
        if isinstance(event, RunStarted):
            self.started = event
        elif isinstance(event, EpochEnded) and self.started is not None:
            # Raises CheckpointWriteError (the previous checkpoint kept) when the disk is full.
            save_checkpoint(self.folder, self.started.strategy, self.started.optimizer, self.started.scheduler,
                            event.loop_state, best=event.best)
