"""The files a run folder gets while the run trains (through tlcore.run_folder.RunFolder):
its config and split when it starts, the target test images as thumbnails, the latest test
predictions every evaluated epoch, a strategy's artifacts, and the summary at the end.
Plain JSON and .npy, never pickles; every write atomic, as the dashboard reads them live."""
from __future__ import annotations

from ..config import record_environment
from ..devices import cpu_flags, cpu_supports_bf16
from ..data.thumbnails import thumbnails
from ..run_folder import RunFolder, TestSetRecord
from ..train.events import EpochEnded, RunEnded, RunStarted

THUMB_PX = 64
MAX_THUMBS = 2000  # 24 MB at 64 px; the gallery shows a few dozen, the rest are listed by name


class RunFiles:
    def __init__(self, folder: RunFolder):
        self.folder = folder.create()
        self.strategy = None

    def __call__(self, event) -> None:
        if isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, EpochEnded) and "target.test.details" in event.metrics:
            self.folder.write_test_predictions(event.epoch, event.metrics["target.test.details"]["predictions"])
        elif isinstance(event, RunEnded):
            self.folder.write_summary(event.summary)
            self._write_artifacts()

    def _started(self, event: RunStarted) -> None:
        ctx, self.strategy = event.context, event.strategy
        # This run's own environment, with the kernel layout chosen for this machine's CPU or GPU.
        environment = {**record_environment(), "memory_format": event.memory_format,
                       "cpu_avx512": "avx512f" in cpu_flags(), "cpu_bf16": cpu_supports_bf16()}
        self.folder.write_config(ctx.config.replace(environment=environment))
        self.folder.write_split(ctx.data.target.split_record())
        self._write_artifacts()  # e.g. instance weights, known from setup: the UI shows them live
        data = ctx.data
        test = data.target_index("test")
        self.folder.write_test_set(TestSetRecord(list(data.class_names), [data.target.ids[i] for i in test]),
                                   thumbnails(data.target, test[:MAX_THUMBS], THUMB_PX))

    def _write_artifacts(self) -> None:
        for name, content in self.strategy.artifacts().items():
            self.folder.write_artifact(name, content)
