"""Feasibility checks, validated on real data: is the learning curve's extrapolation honest,
and does the suspect-label finder find labels that were flipped on purpose?

(a) Learning curve on Fashion-MNIST (pretrained efficientnet_lite0 features, computed once):
    fit on 10/25/50 labels a class, predict 100 and 500 a class; and, as the app does, fit
    on 10-100% of 100 a class, predict 2x (200) and 5x (500). Each prediction is compared
    with the accuracy the same head actually reaches with that many labels (test: the val +
    test splits, 240 a class). Three draws of the labelled set.
(b) Suspect labels: 5% of the labels of syndigits and of fashion flipped to another class
    (seeded), cleanlab on 5-fold out-of-fold probabilities; precision and recall of the
    flagged set against the flipped set, and precision of the top k (k = number flipped).

    python benchmarks/feasibility_checks.py [--image-size 64] [--threads 2] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed


def first_per_class(labels: np.ndarray, pool: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The first ``k`` of each class of ``pool`` in a seeded order: sets of one seed are nested."""
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.permutation(pool[labels[pool] == c])[:k] for c in np.unique(labels[pool])]))


def curve_check(image_size: int, draws=(0, 1, 2)) -> list[dict]:
    from tlcore.data import load_domain
    from tlcore.feasibility.curve import cached_features, learning_curve
    from tlcore.features import linear_probe
    s = load_domain("fashion", per_class=800, seed=0)  # 560 a class train, 240 a class val + test
    train, test = np.flatnonzero(s.splits == "train"), np.flatnonzero(s.splits != "train")
    t0 = time.perf_counter()
    f = cached_features(s, np.arange(len(s)), image_size=image_size)
    print(f"fashion: {len(s)} images, features in {time.perf_counter() - t0:.1f} s", flush=True)
    y = s.labels
    measured = {}

    def actual(k: int, seed: int) -> float:
        # The accuracy really reached with k labels a class (the labelled set grown, same seed).
        if (k, seed) not in measured:
            idx = first_per_class(y, train, k, seed)
            measured[k, seed] = linear_probe(f[idx], y[idx], f[test], y[test], s.class_names, seed=seed)["accuracy"]
        return measured[k, seed]

    rows = []
    for seed in draws:
        # The app's own path: fractions of the labelled set, factors of its size.
        for base, fractions, factors in ((50, (0.2, 0.5, 1.0), (2, 10)), (100, (0.1, 0.25, 0.5, 1.0), (2, 5))):
            idx = first_per_class(y, train, base, seed)
            t0 = time.perf_counter()
            curve = learning_curve(f[idx], y[idx], f[test], y[test], s.class_names, fractions=fractions,
                                   seeds=(0, 1, 2), factors=factors)
            for p in curve.predictions:
                k = int(round(p["per_class"]))
                truth = actual(k, seed)
                rows.append(dict(draw=seed, fit_on=f"{int(base * fractions[0])}-{base}", predict_at=k,
                                 predicted=p["accuracy"], low=p["low"], high=p["high"], actual=truth,
                                 error_points=100 * (p["accuracy"] - truth),
                                 in_band=bool(p["low"] <= truth <= p["high"]),
                                 seconds=round(time.perf_counter() - t0, 1)))
                print(rows[-1], flush=True)
            print("  " + curve.sentence, flush=True)
    return rows


def finder_check(name: str, per_class: int, image_size: int, flips=(0, 1, 2), rate: float = 0.05) -> list[dict]:
    from tlcore.data import load_domain
    from tlcore.feasibility.curve import cached_features
    from tlcore.feasibility.labels import find_suspect_labels
    s = load_domain(name, per_class=per_class, seed=0)
    f = cached_features(s, np.arange(len(s)), image_size=image_size)
    rows = []
    for seed in flips:
        rng = np.random.default_rng(1000 + seed)
        y = s.labels.copy()
        flipped = rng.choice(len(y), int(round(rate * len(y))), replace=False)
        y[flipped] = (y[flipped] + rng.integers(1, s.num_classes, len(flipped))) % s.num_classes  # never itself
        t0 = time.perf_counter()
        suspects = find_suspect_labels(f, y, s.ids, s.class_names, seed=seed)
        found, truth = {x.index for x in suspects}, set(flipped.tolist())
        top = {x.index for x in suspects[:len(truth)]}
        sure = {x.index for x in suspects if x.confident}
        rows.append(dict(data=f"{name} ({len(y)} images)", flip_seed=seed, flipped=len(truth), flagged=len(found),
                         precision=len(found & truth) / max(1, len(found)), recall=len(found & truth) / len(truth),
                         confident=len(sure), confident_precision=len(sure & truth) / max(1, len(sure)),
                         confident_recall=len(sure & truth) / len(truth),
                         precision_at_k=len(top & truth) / len(truth), seconds=round(time.perf_counter() - t0, 1)))
        print(rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-curve", action="store_true")
    parser.add_argument("--skip-finder", action="store_true")
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    out = {}
    if not args.skip_curve:
        rows = out["curve"] = curve_check(args.image_size)
        print("\nLearning-curve extrapolation on fashion (80% band):")
        print(f"{'draw':>4} {'fit on':>8} {'at':>4} {'predicted':>9} {'band':>11} {'actual':>7} {'error':>7} in band")
        for r in rows:
            print(f"{r['draw']:>4} {r['fit_on']:>8} {r['predict_at']:>4} {r['predicted']:>9.1%} "
                  f"{r['low']:>5.0%}-{r['high']:<5.0%} {r['actual']:>7.1%} {r['error_points']:>+6.1f}p "
                  f"{'yes' if r['in_band'] else 'no'}")
        for fit_on in sorted({r["fit_on"] for r in rows}):
            for k in sorted({r["predict_at"] for r in rows if r["fit_on"] == fit_on}):
                sel = [r for r in rows if r["fit_on"] == fit_on and r["predict_at"] == k]
                print(f"  fit {fit_on} -> {k} a class: mean |error| "
                      f"{np.mean([abs(r['error_points']) for r in sel]):.1f} points, "
                      f"in band {sum(r['in_band'] for r in sel)}/{len(sel)}")
    if not args.skip_finder:
        rows = out["finder"] = (finder_check("syndigits", 100, args.image_size)
                                + finder_check("fashion", 500, args.image_size))
        print("\nSuspect-label finder, 5% of labels flipped:")
        print(f"{'data':>24} {'seed':>4} {'flipped':>7} {'flagged':>7} {'precision':>9} {'recall':>6} {'P@k':>5} "
              f"{'confident':>9} {'its prec':>8} {'its rec':>7}")
        for r in rows:
            print(f"{r['data']:>24} {r['flip_seed']:>4} {r['flipped']:>7} {r['flagged']:>7} "
                  f"{r['precision']:>9.1%} {r['recall']:>6.1%} {r['precision_at_k']:>5.1%} "
                  f"{r['confident']:>9} {r['confident_precision']:>8.1%} {r['confident_recall']:>7.1%}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
