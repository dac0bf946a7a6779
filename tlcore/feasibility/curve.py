"""Learning curve: would more labels help, and by how much?

The pretrained backbone's features are computed once for the labelled training images and
the test images; a logistic head (the linear probe of tlcore.features) is then fitted
on class-stratified fractions of the labels over a few seeds, which takes seconds because no
image passes through the network again. A bounded power law acc(n) = a - b * n^-c in the
labels per class is fitted to those points and extrapolated to 2x and 5x the current labels,
with a range from a residual bootstrap of the fit (bounded refits; see PowerLawFit.band).

What the extrapolation is worth was measured on Fashion-MNIST in
benchmarks/feasibility_checks.py: the plain sentence says "likely" and gives the range.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import curve_fit
from threadpoolctl import threadpool_limits

from ..config import DEFAULT_BACKBONE
from ..features import linear_probe

FRACTIONS = (0.1, 0.25, 0.5, 1.0)
FACTORS = (2, 5)
# a: the accuracy plateau, b: how far below it one label a class starts, c: how fast the gap
# closes. c is kept off 0 (a flat curve would make b and a interchangeable) and below 2
# (faster than 1/n^2 is not seen for a head on fixed features).
BOUNDS = ((0.0, 0.0, 0.05), (1.0, 10.0, 2.0))


def power_law(n, a, b, c):
    return a - b * np.power(np.asarray(n, dtype=float), -c)


@dataclass
class PowerLawFit:
    a: float
    b: float
    c: float
    cov: list[list[float]]  # 3x3 covariance of (a, b, c) from curve_fit; inf where not pinned down
    draws: list[list[float]] = field(default_factory=list)  # (a, b, c) refitted on bootstrap samples

    def predict(self, n) -> np.ndarray:
        return np.clip(power_law(np.atleast_1d(n), self.a, self.b, self.c), 0.0, 1.0)

    def band(self, n, level: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
        """(low, high): the central ``level`` share of the bootstrap fits' predictions at ``n``.

        A residual bootstrap rather than draws from ``cov``: with four sizes the plateau ``a``
        often sits on its bound, and a normal around it, clipped or truncated there, gave
        bands that left out the fit itself; every bootstrap refit obeys the bounds."""
        n = np.atleast_1d(np.asarray(n, dtype=float))
        if not self.draws:
            return np.zeros_like(n), np.ones_like(n)  # nothing to go on: say so, not a fake band
        p = np.asarray(self.draws, dtype=float)
        acc = np.clip(p[:, :1] - p[:, 1:2] * n[None, :] ** (-p[:, 2:3]), 0.0, 1.0)
        q = (1 - level) / 2
        return np.quantile(acc, q, axis=0), np.quantile(acc, 1 - q, axis=0)


def _fit(n, acc):
    top = float(np.clip(acc.max(), 0.0, 1.0))
    # Start from a plateau a little above the best point and a gap that matches the smallest n.
    b0 = float(np.clip((top + 0.02 - acc[np.argmin(n)]) * math.sqrt(n.min()), 1e-3, 9.0))
    p0 = (min(top + 0.02, 1.0), b0, 0.5)
    return curve_fit(power_law, n, acc, p0=p0, bounds=BOUNDS, maxfev=20000)


def fit_power_law(n, acc, bootstrap: int = 300, seed: int = 0) -> PowerLawFit:
    """Least-squares fit of acc(n) = a - b n^-c, bounded by BOUNDS, on every measured point
    (each seed separately, so the seed-to-seed spread counts), plus ``bootstrap`` refits on
    the fitted curve plus resampled residuals for the uncertainty band."""
    n, acc = np.asarray(n, dtype=float), np.asarray(acc, dtype=float)
    popt, pcov = _fit(n, acc)
    fitted = power_law(n, *popt)
    resid = acc - fitted
    rng, draws = np.random.default_rng(seed), []
    for _ in range(bootstrap):
        try:
            draws.append([float(v) for v in _fit(n, fitted + rng.choice(resid, len(resid)))[0]])
        except RuntimeError:  # a replicate that does not converge is left out
            continue
    return PowerLawFit(*(float(v) for v in popt), cov=np.asarray(pcov, dtype=float).tolist(), draws=draws)


def stratified_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of ``fraction`` of each class (at least one image), sorted. One permutation per
    seed, so a seed's smaller subsets are nested in its larger ones and the curve measures
    more labels rather than different labels."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        picks.append(members[:max(1, int(round(fraction * len(members))))])
    return np.sort(np.concatenate(picks))


@dataclass
class LearningCurve:
    points: list[dict]  # fraction, seed, per_class (mean labels a class), n, accuracy
    fit: PowerLawFit | None
    per_class: float  # labels per class now (mean over classes)
    accuracy: float  # measured test accuracy with all of them (mean over seeds)
    predictions: list[dict] = field(default_factory=list)  # factor, per_class, accuracy, low, high
    level: float = 0.8
    sentence: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LearningCurve:
        """The inverse of to_dict (a report read back from JSON)."""
        fit = PowerLawFit(**d["fit"]) if d.get("fit") else None
        return cls(points=list(d["points"]), fit=fit, per_class=float(d["per_class"]), accuracy=float(d["accuracy"]),
                   predictions=list(d.get("predictions", [])), level=float(d.get("level", 0.8)),
                   sentence=str(d.get("sentence", "")))


def _point(train_f, train_y, test_f, test_y, class_names, fraction, seed, num_classes) -> dict:
    idx = np.arange(len(train_y)) if fraction >= 1 else stratified_subset(train_y, fraction, seed)
    acc = linear_probe(train_f[idx], train_y[idx], test_f, test_y, class_names, seed=seed)["accuracy"]
    return dict(fraction=float(fraction), seed=int(seed), n=int(len(idx)), per_class=len(idx) / num_classes,
                accuracy=float(acc))


def learning_curve(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray, test_y: np.ndarray,
                   class_names, fractions=FRACTIONS, seeds=(0, 1, 2), factors=FACTORS,
                   level: float = 0.8) -> LearningCurve:
    """Measured accuracy on ``fractions`` of the labelled features over ``seeds``, the power-law
    fit, and its predictions at ``factors`` times the current labels per class."""
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    num_classes = max(1, len(np.unique(train_y)))
    # One BLAS thread: a small head fits in 0.1 s that way, and in 5 s with two threads when
    # another process is busy on the other core (the oversubscription trap of DESIGN.md).
    with threadpool_limits(1):
        points = [_point(train_f, train_y, test_f, test_y, class_names, fraction, seed, num_classes)
                  for seed in seeds for fraction in fractions]
    per_class = len(train_y) / num_classes
    full = [p["accuracy"] for p in points if p["fraction"] >= 1] or [max(p["accuracy"] for p in points)]
    curve = LearningCurve(points, None, per_class, float(np.mean(full)), level=level)
    if len({p["n"] for p in points}) < 3:  # three parameters need three distinct sizes
        curve.sentence = "Too few labelled images to fit a learning curve."
        return curve
    try:
        curve.fit = fit_power_law([p["per_class"] for p in points], [p["accuracy"] for p in points])
    except (RuntimeError, ValueError) as exc:  # no convergence: say so rather than guess
        curve.sentence = f"The learning curve could not be fitted ({exc})."
        return curve
    targets = np.array([f * per_class for f in factors])
    mid = curve.fit.predict(targets)
    low, high = curve.fit.band(targets, level=level)
    curve.predictions = [dict(factor=float(f), per_class=float(t), accuracy=float(m), low=float(lo), high=float(hi))
                         for f, t, m, lo, hi in zip(factors, targets, mid, low, high)]
    curve.sentence = curve_sentence(curve)
    return curve


def curve_sentence(curve: LearningCurve) -> str:
    """"About N more images per class would likely bring accuracy from X% to Y% (range A-B%)."""
    if not curve.predictions:
        return curve.sentence
    first, *rest = curve.predictions
    more = int(round(first["per_class"] - curve.per_class))
    text = (f"About {more} more images per class would likely bring test accuracy from "
            f"{curve.accuracy:.0%} to {first['accuracy']:.0%} "
            f"(range {first['low']:.0%}-{first['high']:.0%}).")
    for p in rest:
        text += (f" With {p['factor']:g}x the labels ({int(round(p['per_class']))} a class): about "
                 f"{p['accuracy']:.0%} (range {p['low']:.0%}-{p['high']:.0%}).")
    return text


def cached_features(image_set, index, backbone: str = DEFAULT_BACKBONE, weights: str = "imagenet",
                    image_size: int = 64, model=None) -> np.ndarray:
    """(len(index), D) pooled features of ``image_set[index]`` under the untrained backbone,
    through the same function the pretrained feature map uses. Pass ``model`` to reuse one."""
    from ..backbones import create_backbone
    from ..data.pipeline import ResizedImages
    from ..features import extract_features
    model = create_backbone(backbone, weights, num_classes=None).eval() if model is None else model
    return extract_features(model, ResizedImages(image_set, image_size, index)).numpy()


def run_data_curve(data, backbone: str = DEFAULT_BACKBONE, weights: str = "imagenet", image_size: int = 64,
                   **kwargs) -> LearningCurve:
    """The learning curve of a RunData (tlcore.data.run_data.prepare_data): its labelled target
    training images against its target test split, features computed once for both."""
    from ..backbones import create_backbone
    model = create_backbone(backbone, weights, num_classes=None).eval()
    train, test = data.target_labelled, data.target_index("test")
    train_f = cached_features(data.target, train, backbone, weights, image_size, model)
    test_f = cached_features(data.target, test, backbone, weights, image_size, model)
    return learning_curve(train_f, data.target.labels[train], test_f, data.target.labels[test], data.class_names,
                          **kwargs)
