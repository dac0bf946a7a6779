"""What reacts to the training loop's events (tlcore.train.events). The loop writes nothing
itself: its caller attaches these. ``folder_listeners`` is the set every recorded run gets
(the worker, the CLI through it, the notebook's ``tlcore.fitting``); the run store's recorder
(tlcore.runs) and MLflow (tlcore.tracking) are added by the worker."""
from __future__ import annotations

from pathlib import Path

from ..run_folder import RunFolder
from .checkpoints import Checkpoints
from .feature_maps import FeatureMaps
from .metrics_file import JsonlMetrics
from .progress import RichProgress
from .run_files import RunFiles


def folder_listeners(folder: str | Path | RunFolder, metrics_file: bool = True) -> list:
    """The listeners that fill a run folder, in the order they must hear an event: the files
    the dashboard reads, the feature map, the metrics file, then the checkpoint (a failed
    checkpoint write ends the run after its epoch's numbers are recorded)."""
    folder = folder if isinstance(folder, RunFolder) else RunFolder(folder)
    listeners = [RunFiles(folder), FeatureMaps(folder)]
    if metrics_file:
        listeners.append(JsonlMetrics(folder))
    return listeners + [Checkpoints(folder)]


__all__ = ["Checkpoints", "FeatureMaps", "JsonlMetrics", "RichProgress", "RunFiles", "folder_listeners"]
