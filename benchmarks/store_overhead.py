"""Logging overhead of the run store: steps/s of the same training with and without the
StoreRecorder callback, measured alternately in one process (3 rounds each).

    python benchmarks/store_overhead.py
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed

from tlcore.config import DataConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig  # noqa: E402
from tlcore.runs import RunStore  # noqa: E402
from tlcore.runs.recorder import StoreRecorder  # noqa: E402
from tlcore.train import train  # noqa: E402


def main() -> None:
    # Many short steps (the small digits CNN) make the per-step logging cost as visible as it gets.
    cfg = RunConfig(data=DataConfig(target="syndigits", per_class=200, image_size=28),
                    model=ModelConfig(backbone="dann_digits_cnn", weights="none", freeze="none"),
                    optim=OptimConfig(name="sgd", lr=0.02), schedule=ScheduleConfig(epochs=2), batch_size=16)
    store = RunStore(tempfile.mkdtemp())
    train(cfg.replace(schedule=ScheduleConfig(epochs=1)))  # warm-up
    plain, recorded, rows = [], [], 0
    for _ in range(3):
        r = train(cfg)
        plain.append(r.summary["train_time_s"])
        run_id = store.create_run(cfg)
        r = train(cfg, [StoreRecorder(store, run_id)])
        recorded.append(r.summary["train_time_s"])
        rows += len(store.metrics(run_id))
    steps = r.history and 2 * (1400 // 16)
    result = {"steps_per_run": steps, "plain_s": plain, "recorded_s": recorded,
              "metric_rows_written": rows,
              "steps_per_s_plain": round(steps / statistics.median(plain), 1),
              "steps_per_s_recorded": round(steps / statistics.median(recorded), 1),
              "recorded_over_plain_time": round(statistics.median(recorded) / statistics.median(plain), 3)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
