"""Backbone ranking without fine-tuning (tlcore.feasibility.rank) on built-in domains.

For each domain: the ranking table of every backbone with ImageNet weights on this
machine, plus efficientnet_lite0 with random weights as a control, with the seconds each
step took. ``--finetune E`` also fine-tunes every candidate for E epochs (head + last
stage, same images and size) through the real engine and reports the Spearman rank
correlation of LogME (and of the other scores) with the reached target test accuracy,
over all (domain, candidate) pairs and within each domain.

    python benchmarks/feasibility_rank.py [--domains syndigits fashion] [--image-size 64]
        [--per-class 50] [--finetune 0] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed

from tlcore.feasibility.rank import default_candidates, format_table, rank_backbones  # noqa: E402


def finetune_accuracy(domain: str, backbone: str, weights: str, image_size: int, per_class: int, epochs: int,
                      seed: int) -> float:
    """Target test accuracy after a short fine-tune of head + last stage (no test-label choices)."""
    from tlcore.config import DataConfig, FeatureMapConfig, ModelConfig, RunConfig, ScheduleConfig
    from tlcore.train import train
    config = RunConfig(data=DataConfig(target=domain, per_class=per_class, image_size=image_size),
                       model=ModelConfig(backbone=backbone, weights=weights, freeze="last:2"),
                       schedule=ScheduleConfig(epochs=epochs), feature_map=FeatureMapConfig(every=0),
                       seed=seed, device="cpu")
    result = train(config)
    if result.status != "finished":
        raise RuntimeError(f"fine-tuning {backbone} on {domain} ended {result.status}: {result.summary.get('error')}")
    return float(result.summary["target.test.accuracy"])


def spearman(a, b) -> float | None:
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).statistic) if len(a) >= 3 else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/feasibility_rank.py")
    parser.add_argument("--domains", nargs="+", default=["syndigits", "fashion"])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--finetune", type=int, default=0, help="epochs of fine-tuning per candidate (0: none)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    candidates = default_candidates() + [("efficientnet_lite0", "none")]
    print(f"candidates: {candidates}; {args.image_size} px, {args.per_class} images a class loaded "
          f"(the training split, about 70%, is scored)", flush=True)
    out = {"settings": vars(args) | {"json": str(args.json) if args.json else None}, "domains": {}}
    pairs = []  # (domain, row, fine-tuned accuracy)
    for domain in args.domains:
        t0 = time.perf_counter()
        rows = rank_backbones(domain, candidates, image_size=args.image_size, per_class=args.per_class,
                              seed=args.seed)
        print(f"\n== {domain}  ({time.perf_counter() - t0:.1f} s in all)\n{format_table(rows)}", flush=True)
        out["domains"][domain] = [r.to_dict() for r in rows]
        for r in rows if args.finetune else []:
            t1 = time.perf_counter()
            acc = finetune_accuracy(domain, r.backbone, r.weights, args.image_size, args.per_class, args.finetune,
                                    args.seed)
            print(f"   fine-tuned {r.backbone} ({r.weights}), {args.finetune} epochs: test accuracy {acc:.3f} "
                  f"({time.perf_counter() - t1:.0f} s)", flush=True)
            pairs.append((domain, r, acc))
            out["domains"][domain][rows.index(r)]["finetuned_test_accuracy"] = acc
    if pairs:
        # LogME is comparable across backbones on one data set, not across data sets: the
        # within-domain correlations are the meaningful ones; the pooled one is for scale only.
        report = {}
        for scope in args.domains + ["pooled"]:
            sel = [p for p in pairs if scope == "pooled" or p[0] == scope]
            acc = [p[2] for p in sel]
            report[scope] = {k: spearman([getattr(p[1], k) for p in sel], acc)
                             for k in ("logme", "h_score", "probe_accuracy")} | {"n": len(sel)}
            print(f"Spearman rho vs fine-tuned accuracy, {scope} (n={len(sel)}): "
                  + ", ".join(f"{k} {v:+.2f}" if v is not None else f"{k} n/a"
                              for k, v in report[scope].items() if k != "n"), flush=True)
        out["spearman"] = report
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
