"""Domain adaptation: does adapting to the unlabelled target beat training on the source
alone? Two settings, every registered source-using method, and a target-labels oracle.

Hyper-parameter rule (no target test labels, and no target labels at all except where a
method is given 10 a class): every method runs with its registered defaults and the
setting's fixed optimiser, fixed before the first run; the model reported is the last
epoch's. Nothing is selected on target data.

- classic: the DANN paper's digits CNN from random init, end to end, with the paper's
  schedule (lr / (1 + 10p)^0.75, lambda ramp, batch 64 + 64, 28 px) but AdamW 1e-3 instead
  of its SGD 0.01: chosen on SOURCE validation accuracy of source-only runs. With SGD at
  lr 0.01, 0.03 or 0.1 the network never left its starting plateau on syndigits (source
  val 0.10-0.16 after 4 epochs, the target at chance after 15); AdamW reached 0.38 in 4.
- pretrained: efficientnet_lite0 from ImageNet weights with the Train page's defaults on
  a CPU (last two stages trainable, AdamW 1e-3 cosine, 100 images a class, batch 32 + 32,
  5 epochs) except the image size: 48 px instead of 64 (72 runs in about 25 minutes on
  2 CPU cores instead of 45).
"""
from __future__ import annotations

from tlcore.config import (DataConfig, FeatureMapConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig,
                           StrategyConfig)

from .common import fmt_ms, group, initial_gap, mean_std, run_jobs
from .suite import section

# method label: (strategy, target labels a class, parameters over its defaults); "oracle"
# trains on all target labels.
METHODS = {"source only": ("source_only", 0, {}), "AdaBN": ("adabn", 0, {}), "DANN": ("dann", 0, {}),
           "CORAL": ("coral", 0, {}), "MMD": ("mmd", 0, {}), "instance weighting": ("instance_weighting", 0, {}),
           "joint (10 labels/class)": ("joint", 10, {}), "oracle (all target labels)": ("finetune", None, {})}
# Weaker alignment, in the pretrained setting only: candidates for the app's recommended
# default, chosen on the labelled target VALIDATION split (see choose_recommendation).
VARIANTS = {"MMD (weight 0.3)": ("mmd", 0, {"weight": 0.3}), "MMD (weight 0.1)": ("mmd", 0, {"weight": 0.1})}
SETTINGS = {
    "classic": {
        "quick": {"pairs": [("mnist", "mnist-m")], "seeds": [0], "epochs": 4, "per_class": 200},
        "full": {"pairs": [("mnist", "mnist-m"), ("syndigits", "mnist")], "seeds": [0, 1, 2], "epochs": 10,
                 "per_class": None},
        "gap_points": 500, "image_size": 28},
    "pretrained": {
        "quick": {"pairs": [("mnist", "syndigits")], "seeds": [0], "epochs": 2, "per_class": 40},
        "full": {"pairs": [("mnist", "syndigits"), ("syndigits", "mnist"), ("mnist", "mnist-m")],
                 "seeds": [0, 1, 2], "epochs": 5, "per_class": 100, "variants": list(VARIANTS)},
        "gap_points": 300, "image_size": 48},
}


def methods(setting: str, mode: str = "full") -> dict[str, tuple]:
    return {**METHODS, **{m: VARIANTS[m] for m in SETTINGS[setting][mode].get("variants", [])}}


def config(setting: str, source: str, target: str, method: str, seed: int, mode: str) -> RunConfig:
    strategy, labels, params = methods(setting, mode)[method]
    s = SETTINGS[setting][mode]
    epochs, size = s["epochs"], SETTINGS[setting]["image_size"]
    oracle = strategy == "finetune"
    data = DataConfig(target=target, source=None if oracle else source,
                      target_labels_per_class=labels if labels else (None if oracle else 0),
                      image_size=size, per_class=s["per_class"])
    sched = ScheduleConfig(epochs=epochs, eval_every=epochs)
    common = dict(strategy=StrategyConfig(name=strategy, params=params), feature_map=FeatureMapConfig(every=0),
                  seed=seed, device="cpu", precision="fp32")
    if setting == "classic":
        return RunConfig(data=data,
                         model=ModelConfig(backbone="dann_digits_cnn", weights="none", freeze="none"),
                         optim=OptimConfig(name="adamw", lr=1e-3, weight_decay=0.0),
                         schedule=ScheduleConfig(epochs=epochs, eval_every=epochs, scheduler="dann"),
                         batch_size=64, **common)
    return RunConfig(data=data,
                     model=ModelConfig(backbone="efficientnet_lite0", weights="imagenet", freeze="last:2"),
                     optim=OptimConfig(name="adamw", lr=1e-3), schedule=sched, batch_size=32, **common)


def run_setting(setting: str, mode: str, jobs: int, log) -> dict:
    s = SETTINGS[setting][mode]
    points = SETTINGS[setting]["gap_points"]
    grid = [(src, tgt, m, seed) for src, tgt in s["pairs"] for m in methods(setting, mode) for seed in s["seeds"]]
    rows = run_jobs([{"config": config(setting, src, tgt, m, seed, mode).to_dict(),
                      "meta": {"pair": f"{src} → {tgt}", "method": m, "seed": seed,
                               "label": f"{src} → {tgt} {m} seed {seed}"},
                      "gap": None if methods(setting, mode)[m][0] == "finetune" else points}
                     for src, tgt, m, seed in grid], jobs, log)
    result = {"setting": setting, "mode": mode, "runs": rows, "settings": s,
              "before_gap": before_gaps(setting, mode, s["pairs"], s["seeds"])}
    return {**result, **tables(result)}


def before_gaps(setting: str, mode: str, pairs, seeds) -> dict[str, list[dict]]:
    points = SETTINGS[setting]["gap_points"]
    return {f"{src} → {tgt}": [initial_gap(config(setting, src, tgt, "source only", seed, mode), points)
                               for seed in seeds] for src, tgt in pairs}


def tables(result: dict) -> dict:
    """Tables and the mean accuracy per pair and method, from the stored runs."""
    s, rows, setting = result["settings"], result["runs"], result["setting"]
    before_gap = result.get("before_gap") or before_gaps(setting, result["mode"], s["pairs"], s["seeds"])
    points = SETTINGS[setting]["gap_points"]
    by = group(rows, "pair", "method")
    out, summary, val = [], {}, {}
    for src, tgt in s["pairs"]:
        pair = f"{src} → {tgt}"
        before = before_gap[pair]
        base = {r["seed"]: r["acc"] for r in by.get((pair, "source only"), [])}
        table = [["before training", "-", "-", "-", fmt_ms((g["a_distance"] for g in before), 1, 2),
                  fmt_ms((g["mmd"] for g in before), 1, 3)]]
        for m in methods(setting, result["mode"]):
            runs = by.get((pair, m), [])
            finished = [r for r in runs if r["status"] == "finished"]
            delta = [r["acc"] - base[r["seed"]] for r in finished if base.get(r["seed"]) is not None
                     and r["acc"] is not None]
            gaps = [r["gap"] for r in runs if r.get("gap")]
            acc = fmt_ms(r["acc"] for r in finished)
            if len(finished) < len(runs):
                failed = len(runs) - len(finished)
                acc = (f"{acc} ({failed} of {len(runs)} diverged)" if acc != "-"
                       else f"diverged in {failed} of {len(runs)}")
            table.append([m, acc, fmt_ms(delta) if m != "source only" else "",
                          fmt_ms(r["source_acc"] for r in finished),
                          fmt_ms((g["a_distance"] for g in gaps), 1, 2), fmt_ms((g["mmd"] for g in gaps), 1, 3)])
            summary.setdefault(pair, {})[m] = mean_std(r["acc"] for r in finished)[0]
            val.setdefault(pair, {})[m] = mean_std(r.get("val_acc") for r in finished)[0]
        out.append({"title": f"{pair}: target test accuracy (%), mean ± std over {len(s['seeds'])} seed(s); "
                             f"domain gap of the trained features ({points} test images a domain)",
                    "columns": ["method", "target acc.", "vs source only (points)", "source acc.",
                                "A-distance", "MMD²"], "rows": table})
    extra, text = {}, notes(setting, summary)
    if setting == "pretrained":
        extra["recommended"], choice_table = choose_recommendation(summary, val, result["mode"])
        out.append(choice_table)
        test = extra["recommended"]["test"]
        worst = min(after - before for before, after in test.values())
        text.append(f"The app recommends {extra['recommended']['method']}: on the test split "
                    + ", ".join(f"{p} {100 * (a - b):+.1f}" for p, (b, a) in test.items())
                    + f" points vs source only (goal: no pair below -1: {'met' if worst >= -MAX_LOSS else 'MISSED'})")
    return {"tables": out, "mean_accuracy": summary, "mean_val_accuracy": val, "notes": text, **extra}


MAX_LOSS = 0.01  # the recommended method may lose at most 1 point against source only, on any pair


def choose_recommendation(test: dict, val: dict, mode: str) -> tuple[dict, dict]:
    """The app's recommended unsupervised method, chosen on the labelled target VALIDATION
    split (never on test): among the methods whose validation accuracy is within 1 point of
    source only's on every pair, the one with the largest mean validation gain; source only
    itself when none is. Returns the choice (with its test figures) and its table."""
    pairs = list(val)
    candidates = [m for m, (strategy, labels, _) in methods("pretrained", mode).items()
                  if labels == 0 and strategy != "source_only"]
    gains = {m: {p: val[p][m] - val[p]["source only"] for p in pairs
                 if val[p].get(m) is not None and val[p].get("source only") is not None} for m in candidates}
    eligible = [m for m in candidates if len(gains[m]) == len(pairs) and min(gains[m].values()) >= -MAX_LOSS]
    chosen = max(eligible, key=lambda m: sum(gains[m].values()), default="source only")
    strategy, _, params = methods("pretrained", mode)[chosen]
    rows = [[m, *(f"{100 * gains[m][p]:+.1f}" if p in gains[m] else "-" for p in pairs),
             "yes" if m in eligible else "no", "**chosen**" if m == chosen else ""] for m in candidates]
    table = {"title": "The app's recommended method, chosen on the target validation split (150 labelled images a "
                      "domain, never the test split): validation accuracy vs source only (points, mean of seeds); "
                      "eligible: no pair below -1",
             "columns": ["method", *pairs, "eligible", ""], "rows": rows}
    choice = {"method": chosen, "strategy": strategy, "params": params,
              "val_gain": {p: gains.get(chosen, {}).get(p, 0.0) for p in pairs},
              "test": {p: [test[p]["source only"], test[p][chosen]] for p in pairs}}
    return choice, table


def notes(setting: str, summary: dict) -> list[str]:
    out = []
    adapt = [m for m in METHODS if m not in ("source only", "oracle (all target labels)")]
    for pair, accs in summary.items():
        so = accs.get("source only")
        if so is None:
            continue
        if setting == "classic" and accs.get("DANN") is not None:
            goal = "at least +10" if pair.startswith("mnist →") else "a gain"
            paper = ("76.7 - 52.3 = +24.4" if pair.startswith("mnist →") else "SynNumbers → SVHN 91.1 - 86.7 = +4.4")
            out.append(f"{pair}: DANN - source only = {100 * (accs['DANN'] - so):+.1f} points "
                       f"(goal: {goal}; the paper: {paper})")
        best = max((m for m in adapt if accs.get(m) is not None), key=lambda m: accs[m], default=None)
        if setting == "pretrained" and best:
            out.append(f"{pair}: best method {best} {100 * accs[best]:.1f} vs source only {100 * so:.1f} "
                       f"({100 * (accs[best] - so):+.1f} points; goal: +5 on at least one pair)")
    if setting == "classic":
        out.append("AdaBN equals source only here: the paper's digits CNN has no BatchNorm to re-estimate.")
    return out


def _retable(result: dict) -> dict:
    return tables({**result, "setting": "classic" if result["section"] == "da-classic" else "pretrained"})


@section("da-classic", "Domain adaptation, classic setting (DANN paper's digits CNN from scratch)",
         quick_budget_s=150, retable=_retable)
def run_classic(mode: str, jobs: int, log) -> dict:
    return run_setting("classic", mode, jobs, log)


@section("da-pretrained", "Domain adaptation, pretrained setting (efficientnet_lite0, ImageNet weights)",
         quick_budget_s=120, retable=_retable)
def run_pretrained(mode: str, jobs: int, log) -> dict:
    return run_setting("pretrained", mode, jobs, log)
