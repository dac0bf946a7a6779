"""The feasibility check in one call: which backbone, how good now, how good with more labels,
which labels look wrong, how far the source is, and a verdict a user can act on.

Each candidate backbone passes every target image once (untrained, pooled features); all
three analyses then work on those cached features, so the network runs once per candidate:

  * ranking: LogME, H-score and a k-fold probe on the training split (tlcore.feasibility.rank);
  * learning curve: a linear head on fractions of the training split, scored on the held-out
    images (val + test: more of them makes each point less noisy), with the best backbone;
  * suspect labels: out-of-fold probabilities over every labelled image, then cleanlab;
  * domain gap (when a source is chosen): A-distance, MMD and k-NN on a class-balanced probe
    of both domains, as the pretrained feature map reports it.

The result is a JSON-ready dict (the CLI prints it, the page's job writes it to a file).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .curve import learning_curve
from .labels import find_suspect_labels, out_of_fold_probabilities, suspect_thumbnails
from .rank import candidate_features, candidate_pairs, rank_row, warm_up

MAX_SUSPECTS_SHOWN = 60  # thumbnails kept for the page; the count is always the full one
GAP_PROBE = 300  # images per domain for the domain-gap numbers (as tlcore.embed.pretrained_gap)


@dataclass
class FeasibilityResult:
    report: dict  # JSON-ready (see run_feasibility)
    suspect_thumbs: np.ndarray  # (min(len(suspects), MAX_SUSPECTS_SHOWN), px, px, 3) uint8


def _step(progress, fraction: float, message: str) -> None:
    if progress is not None:
        progress(float(fraction), message)


def run_feasibility(target: str, source: str | None = None, backbones=None, weights: str = "imagenet",
                    per_class: int | None = 100, image_size: int = 64, seed: int = 0, target_domain: str | None = None,
                    source_domain: str | None = None, label_edits: dict | None = None, probe: bool = True,
                    progress=None, thumb_px: int = 56) -> FeasibilityResult:
    """The whole check on ``target`` (a built-in domain, folder or zip, loaded as a run would
    load it, ``label_edits`` applied). ``progress(fraction, message)`` is called as it goes.

    Raises IngestError / ValueError / WeightsError with a message a user can act on."""
    from ..config import DataConfig, RunConfig
    seconds, t_start = {}, time.perf_counter()
    _step(progress, 0.0, "Reading the images")
    config = RunConfig(data=DataConfig(target=target, source=source, target_domain=target_domain,
                                       source_domain=source_domain, per_class=per_class, label_edits=label_edits),
                       seed=seed)
    check = _Check.load(config, image_size, seed)
    seconds["load"] = time.perf_counter() - t_start
    rows, features = _rank(check, candidate_pairs(backbones, weights), probe, progress)
    best = (rows[0].backbone, rows[0].weights)
    f_best = features[best]
    seconds["ranking"] = sum(r.seconds_features + r.seconds_scoring for r in rows)

    _step(progress, 0.62, f"Learning curve with {best[0]}")
    t0 = time.perf_counter()
    curve = learning_curve(f_best[check.train], check.labels[check.train], f_best[check.held_out],
                           check.labels[check.held_out], check.data.class_names, seeds=(seed, seed + 1, seed + 2))
    seconds["curve"] = time.perf_counter() - t0

    _step(progress, 0.78, "Looking for suspect labels")
    t0 = time.perf_counter()
    pred_probs, suspects, thumbs = _suspects(check, f_best, seed, thumb_px)
    seconds["labels"] = time.perf_counter() - t0

    gap = None
    if check.data.source is not None:
        _step(progress, 0.88, "Measuring the domain gap")
        t0 = time.perf_counter()
        gap = _domain_gap(check.data, best, f_best, image_size, seed)
        seconds["gap"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - t_start
    report = _report(check, config, rows, curve, suspects, pred_probs, gap, seconds)
    _step(progress, 1.0, "Done")
    return FeasibilityResult(report, thumbs)


@dataclass
class _Check:
    """The target as the check sees it: a run's data, every image resized once, the split."""
    data: object  # RunData
    every: object  # ResizedImages of every target image
    labels: np.ndarray
    train: np.ndarray
    held_out: np.ndarray
    image_size: int
    seed: int

    @classmethod
    def load(cls, config, image_size: int, seed: int) -> _Check:
        from ..data.pipeline import ResizedImages
        from ..data.run_data import prepare_data
        data = prepare_data(config)  # supervised: the labelled images are the whole training split
        labels = np.asarray(data.target.labels, dtype=np.int64)
        train, held_out = data.target_labelled, np.flatnonzero(data.target.splits != "train")
        if len(np.unique(labels[train])) < 2:
            raise ValueError(f"the training split of {config.data.target!r} has fewer than 2 classes: "
                             "nothing to check")
        if len(held_out) == 0:
            raise ValueError(f"{config.data.target!r} has no validation or test images to measure accuracy on")
        every = ResizedImages(data.target, image_size, np.arange(len(labels)))
        return cls(data, every, labels, train, held_out, image_size, seed)


def _rank(check: _Check, pairs, probe: bool, progress):
    """Each candidate's features of every target image, and its scores, best LogME first."""
    warm_up(pairs[0], check.every, check.labels[check.train], check.seed, probe)
    rows, features = [], {}
    for i, pair in enumerate(pairs):
        _step(progress, 0.05 + 0.55 * i / len(pairs), f"Features and scores of {pair[0]} ({i + 1}/{len(pairs)})")
        f, s = candidate_features(pair, check.every, check.seed)
        features[pair] = f
        rows.append(rank_row(pair, f[check.train], check.labels[check.train], s, check.seed, probe))
    rows.sort(key=lambda r: -r.logme)
    return rows, features


def _suspects(check: _Check, features: np.ndarray, seed: int, thumb_px: int):
    """(out-of-fold probabilities, suspect labels, thumbnails of those shown)."""
    data, labels = check.data, check.labels
    pred_probs = out_of_fold_probabilities(features, labels, len(data.class_names), seed=seed)
    suspects = find_suspect_labels(features, labels, data.target.ids, data.class_names, pred_probs=pred_probs)
    thumbs = suspect_thumbnails(data.target, suspects[:MAX_SUSPECTS_SHOWN], px=thumb_px) if suspects else \
        np.zeros((0, thumb_px, thumb_px, 3), np.uint8)
    return pred_probs, suspects, thumbs


def _report(check: _Check, config, rows, curve, suspects, pred_probs, gap, seconds) -> dict:
    """The JSON-ready report, with its verdict."""
    data, labels, edits = check.data, check.labels, config.data.label_edits
    report = {
        "target": config.data.target, "source": config.data.source, "class_names": list(data.class_names),
        "images": int(len(labels)), "train_images": int(len(check.train)), "held_out_images": int(len(check.held_out)),
        "per_class_cap": config.data.per_class, "image_size": check.image_size, "seed": check.seed,
        "label_edits": len(edits.get("drops", [])) + len(edits.get("relabels", {})) if edits else 0,
        "ranking": [r.to_dict() for r in rows], "best_backbone": rows[0].backbone, "best_weights": rows[0].weights,
        "curve": curve.to_dict(),
        "suspects": [vars(s) for s in suspects], "suspect_share": len(suspects) / len(labels),
        "confident_suspects": sum(s.confident for s in suspects),
        "out_of_fold_accuracy": float((pred_probs.argmax(1) == labels).mean()),
        "domain_gap": gap, "warnings": list(data.warnings), "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }
    report["verdict"] = verdict(report)
    return report


def _domain_gap(data, best: tuple[str, str], f_target: np.ndarray, image_size: int, seed: int) -> dict:
    """Gap numbers between a class-balanced probe of each domain, under the best backbone."""
    from ..data.pipeline import ResizedImages
    from ..embed.gap import domain_gap, stratified_probe
    t_idx = stratified_probe(data.target.labels, GAP_PROBE, seed)
    pool = data.source_index("train")
    if len(pool) == 0:
        raise ValueError("the source set shares no class name with the target: no domain gap to measure")
    s_idx = pool[stratified_probe(data.source_labels[pool], GAP_PROBE, seed)]
    f_source, _ = candidate_features(best, ResizedImages(data.source, image_size, s_idx, data.source_labels[s_idx]),
                                     seed)
    gap = domain_gap(f_source, data.source_labels[s_idx], f_target[t_idx], data.target.labels[t_idx], seed)
    return {k: float(v) for k, v in gap.items()}


def verdict(report: dict) -> dict:
    """{"level": good | promising | hard, "headline": one sentence, "actions": [sentences]}
    from the numbers of a report. Thresholds are plain rules of thumb, stated in the text."""
    curve, classes = report["curve"], len(report["class_names"])
    now, chance = curve["accuracy"], 1.0 / max(classes, 1)
    best = report["best_backbone"]
    if now >= 0.9:
        level, headline = "good", (f"Feasible: a linear head on frozen {best} features already reaches {now:.0%} "
                                   "on held-out images; fine-tuning should do at least as well.")
    elif now >= max(0.5, 2 * chance):
        level, headline = "promising", (f"Promising: a linear head on frozen {best} features reaches {now:.0%} on "
                                        f"held-out images (chance: {chance:.0%}); fine-tuning should add to it.")
    else:
        level, headline = "hard", (f"Hard as it is: a linear head on frozen {best} features reaches only {now:.0%} "
                                   f"on held-out images (chance: {chance:.0%}). Fine-tuning more stages may help; "
                                   "check the labels and whether the classes can be told apart by eye.")
    actions = []
    ranking = report["ranking"]
    if len(ranking) > 1:
        actions.append(f"Train with {best}: it ranks first of {len(ranking)} by LogME "
                       f"({ranking[0]['logme']:.3f} vs {ranking[1]['logme']:.3f} for {ranking[1]['backbone']}).")
    if curve.get("predictions"):
        twice = curve["predictions"][0]
        gain = twice["accuracy"] - now
        more = max(int(round(twice["per_class"] - curve["per_class"])), 1)
        actions.append(f"Label more: about {more} more images a class would likely bring it to "
                       f"{twice['accuracy']:.0%} (range {twice['low']:.0%}-{twice['high']:.0%})." if gain >= 0.03 else
                       f"More labels alone would add little: 2x the labels is expected at {twice['accuracy']:.0%} "
                       f"(range {twice['low']:.0%}-{twice['high']:.0%}).")
    n_suspects, sure = len(report["suspects"]), report["confident_suspects"]
    if n_suspects:
        text = (f"Review the suspect labels, the {sure} confident one{'s' if sure != 1 else ''} first (another class "
                f"at 90% or more), of {n_suspects} flagged ({report['suspect_share']:.1%} of the images): drop or "
                "relabel those that are wrong.")
        if report["out_of_fold_accuracy"] < 0.9:  # a weak head disagrees with many right labels too
            text += (f" The frozen-feature head is right on only {report['out_of_fold_accuracy']:.0%} of the images, "
                     "so many flags will be hard images rather than wrong labels.")
        actions.append(text)
    else:
        actions.append("No label looks wrong to the confident-learning check.")
    gap = report.get("domain_gap")
    if gap:
        a = gap["a_distance"]
        actions.append(f"The source looks very different (A-distance {a:.2f} of 2): source-only training will likely "
                       "lose accuracy; try the recommended domain-adaptation method, and a few target labels."
                       if a >= 1.5 else
                       f"The domains differ moderately (A-distance {a:.2f} of 2): adaptation may help a little."
                       if a >= 0.5 else
                       f"The source is close to the target (A-distance {a:.2f} of 2): source-only training should "
                       "transfer well.")
    return {"level": level, "headline": headline, "actions": actions}


def format_report(report: dict) -> str:
    """The report as plain text (the CLI's output without --json)."""
    from .rank import RankRow, format_table
    fields = set(RankRow.__dataclass_fields__)
    rows = [RankRow(**{k: v for k, v in r.items() if k in fields}) for r in report["ranking"]]
    v = report["verdict"]
    lines = [f"Feasibility of {report['target']}" + (f" (source {report['source']})" if report["source"] else "")
             + f": {report['images']} images, {len(report['class_names'])} classes, "
             f"{report['train_images']} for training, {report['held_out_images']} held out, {report['image_size']} px",
             "", f"Verdict ({v['level']}): {v['headline']}", *(f"  - {a}" for a in v["actions"]), "",
             "Backbones ranked by LogME (features of the training split, no fine-tuning):", format_table(rows), "",
             "Learning curve: " + report["curve"]["sentence"], "",
             f"Suspect labels: {len(report['suspects'])} ({report['suspect_share']:.1%}), "
             f"{report['confident_suspects']} confident; out-of-fold accuracy {report['out_of_fold_accuracy']:.0%}"]
    for s in report["suspects"][:10]:
        lines.append(f"  {s['item_id']}: labelled {s['given_name']}, looks like {s['suggested_name']} "
                     f"(p(label) {s['self_confidence']:.2f}, p({s['suggested_name']}) {s['suggested_confidence']:.2f})")
    if len(report["suspects"]) > 10:
        lines.append(f"  ... and {len(report['suspects']) - 10} more (--json lists them all)")
    if report["domain_gap"]:
        g = report["domain_gap"]
        lines += ["", f"Domain gap: A-distance {g['a_distance']:.2f} (0-2), MMD² {g['mmd']:.3f}, 5-NN accuracy "
                      f"target {g['knn_target']:.0%}, source {g['knn_source']:.0%}"]
    lines += [f"Warning: {w}" for w in report["warnings"]]
    lines += ["", "Seconds: " + ", ".join(f"{k} {v}" for k, v in report["seconds"].items())]
    return "\n".join(lines)
