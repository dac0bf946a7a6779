"""Transfer vs scratch (model-based transfer): the same architecture from ImageNet weights
and from random init, with 5, 10 and 30 labelled images a class, under four ways of
training it (linear probe, last-stage fine-tune, full fine-tune, LP-FT).

Fixed settings, chosen before any run and the same for both inits: AdamW, lr 1e-3,
weight decay 1e-4, cosine schedule, batch 32, 48 px, no augmentation, the same number of
optimiser steps whatever the shot count; the reported model is the last epoch's (no
selection on any target labels). The test split is the domain's 15% held-out split.
"""
from __future__ import annotations

import math

from tlcore.backbones import backbone_info
from tlcore.config import DataConfig, FeatureMapConfig, ModelConfig, RunConfig, ScheduleConfig, StrategyConfig
from tlcore.data import domain_info

from .common import fmt_ms, group, run_jobs
from .suite import section

METHODS = {  # label: (strategy, freeze spec)
    "linear probe": ("finetune", "all"),
    "last stage": ("finetune", "last:1"),
    "full fine-tune": ("finetune", "none"),
    "LP-FT": ("lp_ft", "none"),
}
SETTINGS = {
    "quick": {"datasets": ["fashion", "clipart"], "shots": [10], "seeds": [0], "steps": 30},
    "full": {"datasets": ["fashion", "clipart"], "shots": [5, 10, 30], "seeds": [0, 1, 2], "steps": 50},
}
# 48 px and 200 Fashion-MNIST images a class loaded (test split 300): the full grid is 144
# runs, about 20 minutes on 2 CPU cores; at 64 px a full fine-tune step costs twice as much.
IMAGE_SIZE, BATCH, PER_CLASS = 48, 32, {"fashion": 200}


def models() -> list[str]:
    """The embedded lite0 always; resnet18 when its torchvision ImageNet weights are here."""
    return ["efficientnet_lite0"] + (["resnet18"] if backbone_info("resnet18").imagenet_available else [])


def config(dataset: str, shots: int, method: str, backbone: str, weights: str, seed: int, steps: int) -> RunConfig:
    strategy, freeze = METHODS[method]
    classes = len(domain_info(dataset).class_names)
    epochs = max(3, math.ceil(steps / math.ceil(shots * classes / BATCH)))
    return RunConfig(
        data=DataConfig(target=dataset, target_labels_per_class=shots, image_size=IMAGE_SIZE,
                        per_class=PER_CLASS.get(dataset)),
        model=ModelConfig(backbone=backbone, weights=weights, freeze=freeze),
        strategy=StrategyConfig(name=strategy),
        schedule=ScheduleConfig(epochs=epochs, eval_every=epochs),
        feature_map=FeatureMapConfig(every=0), batch_size=BATCH, seed=seed, device="cpu", precision="fp32")


def tables(result: dict) -> dict:
    s, rows = result["settings"], result["runs"]
    by = group(rows, "backbone", "dataset", "shots", "method", "weights")
    out = []
    for b in sorted({r["backbone"] for r in rows}, key=lambda b: b != "efficientnet_lite0"):
        table = []
        for d in s["datasets"]:
            for k in s["shots"]:
                for m in METHODS:
                    pre, scr = by.get((b, d, k, m, "imagenet"), []), by.get((b, d, k, m, "none"), [])
                    scratch = {r["seed"]: r["acc"] for r in scr}
                    gain = [p["acc"] - scratch[p["seed"]] for p in pre if scratch.get(p["seed"]) is not None
                            and p["acc"] is not None]
                    table.append([d, k, m, fmt_ms(r["acc"] for r in pre), fmt_ms(r["acc"] for r in scr),
                                  fmt_ms(gain), fmt_ms(r["f1"] for r in pre), fmt_ms(r["f1"] for r in scr)])
        out.append({"title": f"{b}, {IMAGE_SIZE} px, {s['steps']} steps, {len(s['seeds'])} seed(s): "
                             f"target test accuracy and macro F1 (%, mean ± std over seeds)",
                    "columns": ["data", "labels/class", "method", "acc. ImageNet", "acc. scratch",
                                "gain (points)", "F1 ImageNet", "F1 scratch"], "rows": table})
    notes = [] if any(r["backbone"] == "resnet18" for r in rows) else [
        "resnet18 (torchvision) was skipped: its ImageNet weights are not in the torch hub cache here "
        "(`python -m tlcore backbones` says where to put them)."]
    failed = [r["label"] for r in rows if r["status"] != "finished"]
    if failed:
        notes.append(f"{len(failed)} run(s) did not finish: {', '.join(failed)}")
    return {"tables": out, "notes": notes}


@section("transfer", "Transfer vs scratch", quick_budget_s=150, retable=tables)
def run(mode: str, jobs: int, log) -> dict:
    s = SETTINGS[mode]
    grid = [(d, k, m, b, w, seed) for b in models() for d in s["datasets"] for k in s["shots"] for m in METHODS
            for w in ("imagenet", "none") for seed in s["seeds"]]
    rows = run_jobs([{"config": config(d, k, m, b, w, seed, s["steps"]).to_dict(),
                      "meta": {"dataset": d, "shots": k, "method": m, "backbone": b, "weights": w, "seed": seed,
                               "label": f"{b} {d} {k}/class {m} {w} seed {seed}"}}
                     for d, k, m, b, w, seed in grid], jobs, log)
    result = {"runs": rows, "settings": s}
    return {**result, **tables(result)}
