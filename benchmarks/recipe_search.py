"""Recipe search (``python -m tlcore auto``) against the transfer grid's single methods.

The same data as the transfer grid (benchmarks/transfer.py: Fashion-MNIST and clip art,
5/10/30 labelled images a class, 48 px, seeds 0-2, the domain's 15% test split), the
ImageNet-pretrained efficientnet_lite0, one search per cell and seed with a fixed time
budget. The search chooses on the target val split only; its winner's test accuracy is
compared with each grid method's (the stored transfer:full runs, ImageNet weights).
"""
from __future__ import annotations

from tlcore.config import DataConfig, FeatureMapConfig, RunConfig

from .common import fmt_ms, group, mean_std, run_jobs
from .suite import RESULTS, section
from .transfer import BATCH, IMAGE_SIZE, METHODS, PER_CLASS

SETTINGS = {
    "quick": {"datasets": ["fashion", "clipart"], "shots": [10], "seeds": [0], "budget_s": 60},
    "full": {"datasets": ["fashion", "clipart"], "shots": [5, 10, 30], "seeds": [0, 1, 2], "budget_s": 90},
}


def config(dataset: str, shots: int, seed: int, budget_s: float) -> RunConfig:
    return RunConfig(data=DataConfig(target=dataset, target_labels_per_class=shots, image_size=IMAGE_SIZE,
                                     per_class=PER_CLASS.get(dataset)),
                     feature_map=FeatureMapConfig(every=0), batch_size=BATCH, seed=seed, device="cpu",
                     precision="fp32", search_budget_s=budget_s)


def stored_grid() -> list[dict]:
    """The transfer grid's stored full runs (BENCHMARKS.json), ImageNet lite0 only."""
    import json
    stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    return [r for r in stored.get("transfer:full", {}).get("runs", [])
            if r.get("weights") == "imagenet" and r.get("backbone") == "efficientnet_lite0"]


def tables(result: dict) -> dict:
    s, rows = result["settings"], result["runs"]
    grid = group(stored_grid(), "dataset", "shots", "method")
    by = group(rows, "dataset", "shots")
    table, gains = [], []
    for d in s["datasets"]:
        for k in s["shots"]:
            runs = by.get((d, k), [])
            means = {m: mean_std(r["acc"] for r in grid.get((d, k, m), []))[0] for m in METHODS}
            best = max((m for m in means if means[m] is not None), key=means.get, default=None)
            won = mean_std(r["acc"] for r in runs)[0]
            if best is not None and won is not None:
                gains.append(won - means[best])
            winners = "; ".join(sorted({r.get("winner", "?") for r in runs}))  # names have commas
            best_text = f"{best} {fmt_ms(r['acc'] for r in grid.get((d, k, best), []))}" if best else "-"
            table.append([d, k, fmt_ms(r["acc"] for r in runs), best_text,
                          "-" if best is None or won is None else f"{100 * (won - means[best]):+.1f}",
                          fmt_ms(r["before_acc"] for r in runs), winners,
                          f"{max((r.get('search_s') or 0) for r in runs):.0f}" if runs else "-"])
    notes = [f"Mean gain of the search's winner over the best grid method per cell: "
             f"{100 * sum(gains) / len(gains):+.1f} points over {len(gains)} cells."] if gains else []
    failed = [r["label"] for r in rows if r["status"] != "finished"]
    if failed:
        notes.append(f"{len(failed)} search(es) did not finish: {', '.join(failed)}")
    return {"tables": [{"title": f"efficientnet_lite0 (ImageNet), {IMAGE_SIZE} px, {s['budget_s']} s budget, "
                                 f"{len(s['seeds'])} seed(s): target test accuracy (%, mean ± std over seeds)",
                        "columns": ["data", "labels/class", "search winner", "best grid method", "gain (points)",
                                    "before transfer (probe)", "winners", "slowest search (s)"],
                        "rows": table}], "notes": notes}


@section("recipes", "Recipe search vs the transfer grid", quick_budget_s=150, retable=tables)
def run(mode: str, jobs: int, log) -> dict:
    s = SETTINGS[mode]
    rows = run_jobs([{"config": config(d, k, seed, s["budget_s"]).to_dict(),
                      "meta": {"dataset": d, "shots": k, "seed": seed,
                               "label": f"search {d} {k}/class seed {seed}"}}
                     for d in s["datasets"] for k in s["shots"] for seed in s["seeds"]], jobs, log)
    result = {"runs": rows, "settings": s}
    return {**result, **tables(result)}
