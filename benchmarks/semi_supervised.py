"""A few target labels: does semi-supervised adaptation beat the simple alternatives?

With 5 labelled target images a class (the same images for every method of a seed):
MME (minimax entropy, Saito et al. 2019) on the labelled source, the 5 labels and the
unlabelled rest of the target; joint training on the source and the 5 labels; and
fine-tuning on the 5 labels alone (no source), for as many optimiser steps as the others
take (50 images are 2 batches an epoch: 55 epochs instead of 5), and the linear probe on
the frozen features of those 5 labels (the app's "before" number). The reference from the da-pretrained grid
is joint training with 10 labels a class, read from its stored runs (not run again).

Settings as the pretrained DA grid (efficientnet_lite0, ImageNet weights, last two stages,
AdamW 1e-3 cosine, 100 images a class, batch 32 + 32, 5 epochs, 48 px, the last epoch
reported), with each method's registered defaults, fixed before the first run.
"""
from __future__ import annotations

import dataclasses
import json

from tlcore.config import StrategyConfig

from .adaptation import SETTINGS
from .adaptation import config as grid_config
from .common import fmt_ms, mean_std, run_jobs
from .suite import RESULTS, section

LABELS = 5
ALONE = "fine-tune on the 5 labels alone"
PROBE = "linear probe on the 5 labels (frozen features)"
# label: (strategy, uses the source)
METHODS = {"MME (5 labels/class)": ("mme", True), "joint (5 labels/class)": ("joint", True),
           ALONE: ("finetune", False)}
SEMI = ("MME (5 labels/class)", "joint (5 labels/class)")
REFERENCE = "joint (10 labels/class)"  # of the da-pretrained grid
SEEDS = {"full": [0, 1, 2], "quick": [0]}


def config(source: str, target: str, method: str, seed: int, mode: str):
    strategy, uses_source = METHODS[method]
    base = grid_config("pretrained", source, target, REFERENCE, seed, mode)
    data = dataclasses.replace(base.data, source=source if uses_source else None, target_labels_per_class=LABELS)
    if not uses_source:  # the others step through the source: 70 train images a class / 32 a batch
        epochs = base.schedule.epochs * round(0.7 * base.data.per_class * 10 / 32) // 2
        base = base.replace(schedule=dataclasses.replace(base.schedule, epochs=epochs, eval_every=epochs))
    return base.replace(data=data, strategy=StrategyConfig(name=strategy))


def stored_reference() -> dict[str, list[float]]:
    """pair -> the da-pretrained grid's joint (10 labels) target test accuracies."""
    try:
        runs = json.loads(RESULTS.read_text())["da-pretrained:full"]["runs"]
    except (OSError, KeyError, ValueError):
        return {}
    out: dict[str, list[float]] = {}
    for r in runs:
        if r["method"] == REFERENCE and r["status"] == "finished":
            out.setdefault(r["pair"], []).append(r["acc"])
    return out


def tables(result: dict) -> dict:
    rows = [r for r in result["runs"] if r["status"] == "finished"]
    pairs = list(dict.fromkeys(r["pair"] for r in result["runs"]))
    ref = stored_reference()
    mean = {(p, m): mean_std(r["acc"] for r in rows if r["pair"] == p and r["method"] == m)[0]
            for p in pairs for m in METHODS}
    table = [[m, *[fmt_ms(r["acc"] for r in rows if r["pair"] == p and r["method"] == m) for p in pairs]]
             for m in METHODS]
    probe = {p: [r["before_acc"] for r in rows if r["pair"] == p and r["method"] == ALONE] for p in pairs}
    table.append([PROBE, *[fmt_ms(probe[p]) for p in pairs]])
    table.append([f"{REFERENCE} (da-pretrained grid)", *[fmt_ms(ref.get(p, [])) for p in pairs]])
    notes = []
    for p in pairs:
        best = max(SEMI, key=lambda m: mean[(p, m)] or -1)
        bars = {"joint (10 labels)": mean_std(ref.get(p, []))[0],
                "fine-tuning on the 5 labels": mean[(p, ALONE)], "their linear probe": mean_std(probe[p])[0]}
        if mean[(p, best)] is None or None in bars.values():
            continue
        beaten = all(mean[(p, best)] > b for b in bars.values())
        notes.append(f"{p}: the best semi-supervised method, {best}, {100 * mean[(p, best)]:.1f} vs "
                     + ", ".join(f"{k} {100 * v:.1f}" for k, v in bars.items())
                     + f": {'beats all three' if beaten else 'does NOT beat all three'}")
    return {"tables": [{"title": f"{LABELS} labelled target images a class: target test accuracy (%), mean ± std "
                                 "over seeds (efficientnet_lite0, last two stages, 48 px, 5 epochs)",
                        "columns": ["method", *pairs], "rows": table}], "notes": notes}


@section("da-semi", "A few target labels: semi-supervised adaptation", quick_budget_s=240,
         retable=lambda result: tables(result))
def run_semi(mode: str, jobs: int, log) -> dict:
    pairs = SETTINGS["pretrained"][mode]["pairs"]
    grid = [(s, t, m, seed) for s, t in pairs for m in METHODS for seed in SEEDS[mode]]
    rows = run_jobs([{"config": config(s, t, m, seed, mode).to_dict(),
                      "meta": {"pair": f"{s} → {t}", "method": m, "seed": seed, "label": f"{s} → {t} {m} seed {seed}"}}
                     for s, t, m, seed in grid], jobs, log)
    result = {"mode": mode, "runs": rows,
              "settings": {"labels": LABELS, "seeds": SEEDS[mode], "methods": list(METHODS)}}
    return {**result, **tables(result)}
