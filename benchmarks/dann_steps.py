"""Does the classic DANN gain grow with training length? mnist -> mnist-m, the paper's
digits CNN from scratch with the paper's own SGD recipe (momentum 0.9, lr 0.01 with its
decay, lambda ramp, batch 64 + 64), source only vs DANN, at several epoch counts.

    python benchmarks/dann_steps.py [--epochs 10,30] [--seed 0]

One seed, one torch thread, the runs in sequence (about 4 and 25 minutes of one core for
10 and 30 epochs). Everything else is the da-classic section's configuration.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed

from benchmarks.adaptation import config  # noqa: E402
from tlcore.config import OptimConfig, ScheduleConfig  # noqa: E402
from tlcore.train import train  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", default="10,30")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for epochs in [int(e) for e in args.epochs.split(",")]:
        for method in ("source only", "DANN"):
            c = config("classic", "mnist", "mnist-m", method, args.seed, "full")
            c = c.replace(optim=OptimConfig(name="sgd", lr=0.01, momentum=0.9, weight_decay=0.0),
                          schedule=ScheduleConfig(epochs=epochs, eval_every=epochs, scheduler="dann"))
            t0 = time.perf_counter()
            s = train(c).summary
            rows.append({"epochs": epochs, "method": method, "target_test_acc": s.get("target.test.accuracy"),
                         "source_val_acc": s.get("source.val.accuracy"), "status": s["status"],
                         "wall_s": round(time.perf_counter() - t0)})
            print(json.dumps(rows[-1]), flush=True)
    for epochs in sorted({r["epochs"] for r in rows}):
        acc = {r["method"]: r["target_test_acc"] for r in rows if r["epochs"] == epochs}
        print(f"{epochs} epochs: source only {100 * acc['source only']:.1f}, DANN {100 * acc['DANN']:.1f} "
              f"({100 * (acc['DANN'] - acc['source only']):+.1f} points)")


if __name__ == "__main__":
    main()
