"""Feature cache benchmark: a frozen-backbone (linear-probe) run with and without the cache.

500 images (syndigits, 50 a class), the pretrained default efficientnet_lite0 with every
stage frozen, 20 epochs, measured side by side in one process:
  extract   one feature-extraction pass over the 500 images (the backbone's forward)
  cached    the cached run: extraction once + 20 epochs of head training on the features
  uncached  the same 20 epochs running the (frozen) backbone on every batch

    python benchmarks/feature_cache.py [--img-size 160] [--device auto] [--epochs 20]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed

from benchmarks.common import cpu_model  # noqa: E402
from tlcore.config import DataConfig, FeatureMapConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig
from tlcore.features import extract_features
from tlcore.train import TrainContext, train
from tlcore.train.loop import make_fabric


def measure(img_size: int = 160, epochs: int = 20, device: str = "auto", precision: str = "auto") -> dict:
    # 50 a class with the default 15/15% split leaves 35 training images a class; 72 a class
    # gives the 500 training images the benchmark is about.
    cfg = RunConfig(data=DataConfig(target="syndigits", per_class=72, image_size=img_size),
                    model=ModelConfig(freeze="all"), optim=OptimConfig(head_solver="sgd"),  # SGD epochs on the cache
                    schedule=ScheduleConfig(epochs=epochs), batch_size=32,
                    feature_map=FeatureMapConfig(every=0), device=device, precision=precision)

    fabric, device, precision = make_fabric(cfg)
    ctx = TrainContext(cfg, fabric)
    ctx.strategy.to(fabric.device)
    train_set = ctx.dataset("target_labelled")
    extract_features(ctx.strategy.backbone, train_set, ctx.preprocess, 64, fabric)  # warm-up
    t0 = time.perf_counter()
    extract_features(ctx.strategy.backbone, train_set, ctx.preprocess, 64, fabric)
    extract = time.perf_counter() - t0

    cached = train(cfg)
    uncached = train(cfg.replace(feature_cache=False))
    assert cached.summary["feature_cache"] and not uncached.summary["feature_cache"]
    cached_cost = extract + cached.summary["train_time_s"]
    return {
        "images": len(train_set), "epochs": epochs, "img_size": img_size, "device": device,
        "precision": precision, "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "extract_s": round(extract, 3), "cached_epochs_s": cached.summary["train_time_s"],
        "uncached_epochs_s": uncached.summary["train_time_s"],
        "cached_over_one_extraction": round(cached_cost / extract, 3),
        "uncached_over_cached": round(uncached.summary["train_time_s"] / cached_cost, 2),
        "cached_test_accuracy": cached.summary["target.test.accuracy"],
        "uncached_test_accuracy": uncached.summary["target.test.accuracy"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--img-size", type=int, default=160)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    args = ap.parse_args()
    print(json.dumps(measure(args.img_size, args.epochs, args.device, args.precision), indent=2))


if __name__ == "__main__":
    main()
