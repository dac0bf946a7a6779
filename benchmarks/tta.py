"""Flip test-time augmentation: does averaging each test image's probabilities with its
mirror image's raise the test accuracy of a small transfer run, and at what cost?

    python benchmarks/tta.py

Fixed settings, chosen before any run: efficientnet_lite0 from its ImageNet weights, 64 px,
last stage fine-tuned (freeze last:1), 10 labelled images a class, 8 epochs, AdamW 1e-3,
batch 32, no training augmentation, one torch thread a run, seeds 0-2; Fashion-MNIST capped
at 200 images a class (test split 300), clip-art whole (test split ~84). syndigits (200 a
class) is the control where a mirrored image is not the same class. Each run is scored by
tlcore.predict.evaluate_with_tta on its own test split with its last-epoch weights, the ones
its summary reports: "none" must reproduce that number. Two runs at a time on 2 cores.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed

DATASETS = {"clipart": None, "fashion": 200, "syndigits": 200}  # target: images loaded a class (None: all)
SEEDS = (0, 1, 2)
SHOTS, IMAGE_SIZE, EPOCHS, BATCH = 10, 64, 8, 32


def config(target: str, seed: int):
    from tlcore.config import DataConfig, FeatureMapConfig, ModelConfig, RunConfig, ScheduleConfig
    return RunConfig(data=DataConfig(target=target, per_class=DATASETS[target], target_labels_per_class=SHOTS,
                                     image_size=IMAGE_SIZE),
                     model=ModelConfig(backbone="efficientnet_lite0", weights="imagenet", freeze="last:1"),
                     schedule=ScheduleConfig(epochs=EPOCHS, eval_every=EPOCHS), feature_map=FeatureMapConfig(every=0),
                     batch_size=BATCH, seed=seed, device="cpu", precision="fp32", threads=1,
                     name=f"tta {target} seed {seed}")


def one_run(job: tuple[str, int]) -> dict:
    """Train one run into a temporary folder, then score its test split without and with flip."""
    import torch

    from tlcore import fit
    from tlcore.predict import evaluate_with_tta
    torch.set_num_threads(1)
    target, seed = job
    with tempfile.TemporaryDirectory(prefix="tlstudio-tta-") as out:
        t0 = time.perf_counter()
        summary = fit(config(target, seed), out_dir=out).summary
        train_s = time.perf_counter() - t0
        if summary["status"] != "finished":
            return {"target": target, "seed": seed, "error": summary.get("error")}
        tta = evaluate_with_tta(out, "last")
    return {"target": target, "seed": seed, "recorded": summary["target.test.accuracy"], "n": tta["n"],
            "acc_none": tta["none"]["accuracy"], "acc_flip": tta["flip"]["accuracy"],
            "f1_none": tta["none"]["macro_f1"], "f1_flip": tta["flip"]["macro_f1"],
            "s_none": tta["seconds"]["none"], "s_flip": tta["seconds"]["flip"], "train_s": round(train_s, 1)}


def mean_std(values: list[float], scale: float = 100) -> str:
    values = [v * scale for v in values]
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}" if len(values) > 1 else f"{values[0]:.1f}"


def table(rows: list[dict]) -> str:
    lines = ["| target | test images | accuracy, no TTA | accuracy, flip TTA | flip − none (points) "
             "| seeds up / same / down | macro F1, no TTA | macro F1, flip TTA | time flip / none |",
             "|---|---|---|---|---|---|---|---|---|"]
    for target in DATASETS:
        done = [r for r in rows if r["target"] == target and "error" not in r]
        if not done:
            continue
        diff = [r["acc_flip"] - r["acc_none"] for r in done]
        ratio = [r["s_flip"] / r["s_none"] for r in done if r["s_none"] > 0]
        lines.append(f"| {target} | {done[0]['n']} | {mean_std([r['acc_none'] for r in done])} "
                     f"| {mean_std([r['acc_flip'] for r in done])} | {mean_std(diff)} "
                     f"| {sum(d > 1e-12 for d in diff)} / {sum(abs(d) <= 1e-12 for d in diff)} / "
                     f"{sum(d < -1e-12 for d in diff)} "
                     f"| {mean_std([r['f1_none'] for r in done])} | {mean_std([r['f1_flip'] for r in done])} "
                     f"| {statistics.mean(ratio):.2f}x |")
    return "\n".join(lines)


def main() -> None:
    jobs = [(target, seed) for target in DATASETS for seed in SEEDS]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        rows = list(pool.map(one_run, jobs))
    for r in rows:
        print(json.dumps(r))
    bad = [r for r in rows if "error" not in r and abs(r["recorded"] - r["acc_none"]) > 1e-9]
    print(f"\n{len(rows)} runs in {time.perf_counter() - t0:.0f} s; 'none' reproduces the recorded accuracy "
          f"in {len(rows) - len(bad)} of {len(rows)}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
