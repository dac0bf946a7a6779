"""Listeners that connect the training loop to the run store."""
from __future__ import annotations

import time

from ..train.events import EpochEnded, EpochStarted, RunEnded, RunStarted, StepEnded
from .store import RunStore

FLUSH_SECONDS = 0.25


class StoreRecorder:
    """Buffers step and epoch metrics and writes them in one transaction every 0.25 s
    (and at each epoch end), so logging costs the loop almost nothing."""

    def __init__(self, store: RunStore, run_id: str, flush_seconds: float = FLUSH_SECONDS):
        self.store, self.run_id, self.flush_seconds = store, run_id, flush_seconds
        self._rows: list[tuple] = []
        self._last_flush = time.monotonic()
        self._step = 0

    def __call__(self, event) -> None:
        now = time.time()
        if isinstance(event, StepEnded):
            self._step = event.step
            self._rows += [(event.step, event.epoch, "train", k, v, now) for k, v in event.values.items()]
            if time.monotonic() - self._last_flush >= self.flush_seconds:
                self.flush()
        elif isinstance(event, RunStarted):
            # What the progress bar and its ETA need; a resumed run records them again.
            self._step = event.first_step
            self._rows += [(self._step, 0, "run", k, float(getattr(event, k)), now)
                           for k in ("steps_per_epoch", "epochs", "params", "trainable", "feature_cache")]
            self.flush()
        elif isinstance(event, EpochStarted):
            # The freeze map of this epoch (gradual unfreezing changes it): 1 frozen, 0 training.
            self._rows += [(self._step, event.epoch, "frozen", stage, float(frozen), now)
                           for stage, frozen in event.frozen.items()]
        elif isinstance(event, EpochEnded):
            for key, value in event.metrics.items():
                if isinstance(value, (int, float)):
                    split, _, name = key.rpartition(".")  # "target.val.accuracy" -> target.val / accuracy
                    self._rows.append((self._step, event.epoch, split, name, float(value), now))
            self._rows.append((self._step, event.epoch, "epoch", "seconds", event.seconds, now))
            self.flush()
        elif isinstance(event, RunEnded):
            self.flush()

    def flush(self) -> None:
        rows, self._rows = self._rows, []
        self.store.add_metrics(self.run_id, rows)
        self._last_flush = time.monotonic()


class StopPoller:
    """``should_stop`` for the loop: true once the store's stop flag is set (read at most
    every 0.25 s) or once ``trip()`` was called (the worker's SIGTERM handler)."""

    def __init__(self, store: RunStore, run_id: str, every: float = FLUSH_SECONDS):
        self.store, self.run_id, self.every = store, run_id, every
        self._checked = 0.0
        self._stop = False

    def trip(self) -> None:
        self._stop = True

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self._stop and now - self._checked >= self.every:
            self._checked = now
            self._stop = self.store.stop_requested(self.run_id)
        return self._stop
