"""Rank candidate backbones for a target set before any fine-tuning.

Each candidate's frozen features of the target's labelled training split are computed
once (``tlcore.features.extract_features``, the same forward pass as the
pretrained feature map), then scored by LogME, the regularised H-score and a k-fold
linear-probe accuracy. Only the training split is used, so the val/test images a later
run reports on stay unseen.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from .logme import logme
from .scores import h_score, probe_accuracy


@dataclass(frozen=True)
class RankRow:
    backbone: str
    weights: str
    logme: float
    h_score: float
    probe_accuracy: float  # mean k-fold accuracy of a logistic regression on the features
    feature_dim: int
    n_images: int
    seconds_features: float  # model build + forward pass over the images
    seconds_logme: float
    seconds_h_score: float
    seconds_probe: float

    @property
    def seconds_scoring(self) -> float:
        return self.seconds_logme + self.seconds_h_score + self.seconds_probe

    def to_dict(self) -> dict:
        return {**asdict(self), "seconds_scoring": self.seconds_scoring}


def default_candidates() -> list[str]:
    """Every registered backbone whose ImageNet weights are on this machine right now."""
    from ..backbones import backbone_info, list_backbones
    return [name for name in list_backbones() if backbone_info(name).imagenet_available]


def candidate_pairs(backbones, weights: str = "imagenet") -> list[tuple[str, str]]:
    """(name, weights) pairs, checked before any image is touched so a typo fails fast."""
    from ..backbones import backbone_info, get_spec, list_backbones
    from ..registry import UnknownNameError
    if backbones is None:
        if weights.startswith("file:"):
            raise ValueError("a weights file fits one architecture: name the backbone(s) to rank with it")
        backbones = default_candidates()
        if not backbones:
            raise ValueError("no registered backbone has ImageNet weights on this machine; "
                             "name backbones with weights 'none' or 'file:PATH'")
    pairs = [(b, weights) if isinstance(b, str) else (b[0], b[1]) for b in backbones]
    if not pairs:
        raise ValueError("no backbones to rank")
    from ..backbones import WEIGHT_CHOICES, WeightsError
    bad = sorted({w for _, w in pairs if w not in ("imagenet", "none") and not w.startswith("file:")})
    if bad:
        raise WeightsError(f"unknown weight source(s) {', '.join(map(repr, bad))}; valid: {WEIGHT_CHOICES}")
    unknown = []
    for name, _ in pairs:
        try:
            get_spec(name)
        except UnknownNameError:
            unknown.append(name)
    if unknown:
        raise UnknownNameError(f"unknown backbone(s) {', '.join(map(repr, unknown))}; valid: "
                               f"{', '.join(list_backbones())}, or any timm model as timm:<name>")
    missing = [name for name, w in pairs if w == "imagenet" and not backbone_info(name).imagenet_available]
    if missing:
        from ..backbones import WeightsUnavailable
        raise WeightsUnavailable(f"no ImageNet weights on this machine for {', '.join(missing)}; available: "
                                 f"{', '.join(default_candidates()) or 'none'} (or use weights 'none')")
    return pairs


def target_train_set(target: str, image_size: int, per_class: int | None, seed: int):
    """(ResizedImages of the labelled training split, class names) as a training run loads them."""
    from ..config import DataConfig, RunConfig
    from ..data.pipeline import ResizedImages
    from ..data.run_data import prepare_data
    config = RunConfig(data=DataConfig(target=target, per_class=per_class), seed=seed)
    data = prepare_data(config)  # supervised: every training image of the target is labelled
    return ResizedImages(data.target, image_size, data.target_labelled), data.class_names


def score_features(features: np.ndarray, labels: np.ndarray, seed: int = 0, probe: bool = True) -> dict[str, float]:
    """The three scores of one feature matrix, each with the seconds it took (the probe,
    by far the slowest, can be left out: NaN and 0 s)."""
    out = {"probe_accuracy": float("nan"), "seconds_probe": 0.0}
    scorers = [("logme", lambda: logme(features, labels).score), ("h_score", lambda: h_score(features, labels))]
    if probe:
        scorers.append(("probe_accuracy", lambda: probe_accuracy(features, labels, seed=seed)))
    for key, fn in scorers:
        t0 = time.perf_counter()
        out[key] = float(fn())
        out["seconds_" + ("probe" if key == "probe_accuracy" else key)] = time.perf_counter() - t0
    return out


def warm_up(pair, dataset, labels, seed: int, probe: bool) -> None:
    """One untimed pass of everything on a little data, so the first row's seconds are not
    the scipy/sklearn imports, the BLAS thread start-up and torch's first convolutions."""
    from torch.utils.data import Subset

    from ..backbones import create_backbone
    from ..features import extract_features
    model = create_backbone(pair[0], pair[1], num_classes=None).eval()
    few = Subset(dataset, range(min(4, len(dataset))))
    extract_features(model, few)
    warm = np.random.default_rng(seed).normal(size=(len(labels), 64))
    score_features(warm, labels, seed, probe=False)
    if probe:
        score_features(warm[:20, :4], np.arange(20) % 2, seed, probe=True)


def rank_backbones(target: str, backbones=None, image_size: int = 64, per_class: int | None = 50, seed: int = 0,
                   weights: str = "imagenet", probe: bool = True, progress=None) -> list[RankRow]:
    """Candidates ranked by LogME, best first.

    ``backbones``: names (each with ``weights``) or (name, weights) pairs, so a random-init
    control can sit in the same table; None: every backbone with ImageNet weights here.
    ``per_class`` caps the images loaded per class; the training split is about 70% of it.
    The defaults (64 px, 50 a class) keep a CPU run to seconds per backbone.
    ``probe=False`` skips the k-fold linear probe (seconds per backbone on a CPU).
    ``progress(i, n, name)`` is called before each candidate.
    """
    pairs = candidate_pairs(backbones, weights)
    dataset, _ = target_train_set(target, image_size, per_class, seed)
    labels = np.asarray(dataset.labels)
    if len(np.unique(labels)) < 2:
        raise ValueError(f"the training split of {target!r} has fewer than 2 classes: nothing to rank on")
    warm_up(pairs[0], dataset, labels, seed, probe)
    rows = []
    for i, pair in enumerate(pairs):
        if progress:
            progress(i, len(pairs), pair[0])
        features, seconds_features = candidate_features(pair, dataset, seed)
        rows.append(rank_row(pair, features, labels, seconds_features, seed, probe))
    return sorted(rows, key=lambda r: -r.logme)


def candidate_features(pair: tuple[str, str], dataset, seed: int = 0) -> tuple[np.ndarray, float]:
    """(pooled features of ``dataset`` under the untrained backbone, seconds for model build +
    forward pass). Seeded, so a random-init control is the same network every time."""
    import torch

    from ..backbones import create_backbone
    from ..features import extract_features
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    model = create_backbone(pair[0], pair[1], num_classes=None).eval()
    features = extract_features(model, dataset).numpy()
    return features, time.perf_counter() - t0


def rank_row(pair: tuple[str, str], features: np.ndarray, labels: np.ndarray, seconds_features: float,
             seed: int = 0, probe: bool = True) -> RankRow:
    """One candidate's row: its scores on ``features`` (the labelled training images)."""
    scores = score_features(features, labels, seed, probe)
    return RankRow(backbone=pair[0], weights=pair[1], feature_dim=features.shape[1], n_images=len(labels),
                   seconds_features=seconds_features, **scores)


def format_table(rows: list[RankRow]) -> str:
    """The ranking as a fixed-width text table (for the CLI and the benchmark script)."""
    head = (f"{'#':>2} {'backbone':<20} {'weights':<8} {'LogME':>8} {'H-score':>8} {'probe acc':>9} "
            f"{'dim':>5} {'n':>5} {'feat s':>7} {'LogME s':>8} {'H s':>6} {'probe s':>8}")
    lines = [head, "-" * len(head)]
    for i, r in enumerate(rows, 1):
        lines.append(f"{i:>2} {r.backbone:<20} {r.weights:<8} {r.logme:>8.4f} {r.h_score:>8.3f} "
                     f"{r.probe_accuracy:>9.3f} {r.feature_dim:>5} {r.n_images:>5} {r.seconds_features:>7.2f} "
                     f"{r.seconds_logme:>8.3f} {r.seconds_h_score:>6.3f} {r.seconds_probe:>8.2f}")
    return "\n".join(lines)
