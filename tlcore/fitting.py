"""``fit``: train a config in this process, from a notebook or a script.

The loop (tlcore.train.train) only trains; ``fit`` attaches the listeners that fill a run
folder when ``out_dir`` is given (config, split, test gallery and predictions, feature map,
checkpoints, summary), so a notebook run leaves the same files a dashboard run does and
Predictor, the exports and ``train --config`` replays work on it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from .config import RunConfig
from .listeners import folder_listeners
from .run_folder import RunFolder
from .train import TrainResult, train


def fit(config: RunConfig, out_dir: str | Path | None = None, listeners: Iterable[Callable] = (),
        should_stop: Callable[[], bool] | None = None, resume: bool = False) -> TrainResult:
    """Train ``config``; with ``out_dir``, write its run folder there (and with ``resume``,
    continue from that folder's last checkpoint). ``listeners`` hear every event after the
    folder's own."""
    folder = RunFolder(out_dir) if out_dir is not None else None
    attached = (folder_listeners(folder, metrics_file=False) if folder else []) + list(listeners)
    result = train(config, attached, should_stop, resume_from=folder if resume else None)
    result.out_dir = folder.path if folder else None
    return result
