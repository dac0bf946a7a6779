"""Every step's and epoch's numbers as JSON lines in the run folder (what the exported
bundle's metrics.csv is made from)."""
from __future__ import annotations

import json

from ..run_folder import RunFolder
from ..train.events import EpochEnded, StepEnded


class JsonlMetrics:
    """Appends every step's losses and every epoch's metrics to the run's metrics file, one
    JSON object a line (an append: a reader sees whole lines, a crash cuts at most the last)."""

    def __init__(self, folder: RunFolder):
        self.path = folder.create().metrics_file

    def __call__(self, event) -> None:
        if isinstance(event, StepEnded):
            row = {"kind": "step", "epoch": event.epoch, "step": event.step, **event.values}
        elif isinstance(event, EpochEnded):
            row = {"kind": "epoch", "epoch": event.epoch, "seconds": round(event.seconds, 3),
                   **{k: v for k, v in event.metrics.items() if not isinstance(v, dict)}}
        else:
            return
        with self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
