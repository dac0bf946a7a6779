"""Label-free validators: how good a domain-adapted model is on the target, scored without
one target label. Each takes the model's outputs (softmax probabilities, features) on the
source validation split and on the unlabelled target images; higher is better for all.

  source_acc   accuracy on the source val split (what source-only training maximises)
  entropy      minus the mean prediction entropy on the target (confident predictions)
  info_max     H(mean prediction) - mean H(prediction) on the target: confident AND spread
               over the classes (information maximisation, Shi & Sha 2012; SHOT's objective)
  snd          soft neighbourhood density (Saito et al., ICCV 2021): the entropy of each
               target sample's soft neighbour distribution over the other targets, in
               probability space; clustered but not collapsed predictions score high
  dev          minus DEV (You et al., ICML 2019): the source val loss importance-weighted by
               a domain classifier's density ratio, with the paper's control variate
  reverse      reverse validation (Ganin et al., JMLR 2016, after Zhong et al. 2010): a
               classifier trained on the target's pseudo-labels, tested on the source val split

The reverse classifier here is logistic regression on the model's features, not a second
network trained end to end as in the DANN paper: seconds instead of a whole run.
skada (0.6) has SND, DEV and circular validation as scikit-learn scorers, but they take an
estimator with its own sample_domain convention, its SND normalises the softmax over the
whole similarity matrix where the paper normalises each row, and it brings POT and pandas:
the formulas are a few lines each, transcribed here and tested against the papers.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

VALIDATORS = {
    "source_acc": "source val accuracy",
    "entropy": "target prediction entropy (negated)",
    "info_max": "information maximisation on the target",
    "snd": "soft neighbourhood density (SND)",
    "dev": "importance-weighted source val loss (DEV, negated)",
    "reverse": "reverse validation accuracy",
}
EPS = 1e-12


def _entropy(p: np.ndarray) -> np.ndarray:
    return -(p * np.log(np.clip(p, EPS, 1.0))).sum(1)


def entropy_score(p_target: np.ndarray) -> float:
    return float(-_entropy(p_target).mean())


def info_max_score(p_target: np.ndarray) -> float:
    return float(_entropy(p_target.mean(0, keepdims=True))[0] - _entropy(p_target).mean())


def snd_score(p_target: np.ndarray, temperature: float = 0.05) -> float:
    """SND, the paper's Eq. 1-3: cosine similarities of the L2-normalised probability vectors,
    each row's softmax over the OTHER samples at temperature 0.05, the mean row entropy."""
    if len(p_target) < 2:
        return 0.0
    z = p_target / np.clip(np.linalg.norm(p_target, axis=1, keepdims=True), EPS, None)
    s = z @ z.T / temperature
    np.fill_diagonal(s, -np.inf)
    s -= s.max(1, keepdims=True)
    e = np.exp(s)
    return float(_entropy(e / e.sum(1, keepdims=True)).mean())


def _domain_probability(f_source: np.ndarray, f_target: np.ndarray, f_query: np.ndarray, seed: int) -> np.ndarray:
    """P(target | x) for ``f_query``, from a logistic-regression domain classifier."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    x = np.concatenate([f_source, f_target])
    d = np.r_[np.zeros(len(f_source)), np.ones(len(f_target))]
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000, random_state=seed))
    clf.fit(x, d)
    return clf.predict_proba(f_query)[:, 1]


def dev_risk(f_source_train: np.ndarray, f_target: np.ndarray, f_source_val: np.ndarray,
             loss_source_val: np.ndarray, seed: int = 0) -> float:
    """DEV (You et al. 2019, Algorithm 1): w = n_s/n_t * p(t|x)/p(s|x) on source val, L = w l,
    eta = -Cov(L, w) / Var(w), risk = mean(L) + eta mean(w) - eta. Lower is better."""
    p_t = np.clip(_domain_probability(f_source_train, f_target, f_source_val, seed), 1e-6, 1 - 1e-6)
    return dev_from_weights(len(f_source_train) / max(len(f_target), 1) * p_t / (1 - p_t), loss_source_val)


def dev_from_weights(w: np.ndarray, loss: np.ndarray) -> float:
    """DEV's control-variate estimate from density ratios ``w`` and per-sample losses."""
    weighted = w * loss
    var = w.var(ddof=1) if len(w) > 1 else 0.0
    eta = -np.cov(weighted, w)[0, 1] / var if var > 0 else 0.0
    return float(weighted.mean() + eta * w.mean() - eta)


def reverse_accuracy(f_target: np.ndarray, p_target: np.ndarray, f_source_val: np.ndarray,
                     y_source_val: np.ndarray, seed: int = 0) -> float:
    """Accuracy on the source val split of a classifier fitted to the target's pseudo-labels."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    pseudo = p_target.argmax(1)
    if len(np.unique(pseudo)) < 2:  # every target image given one class: the reverse model says only that
        return float((y_source_val == pseudo[0]).mean()) if len(pseudo) else 0.0
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000, random_state=seed))
    clf.fit(f_target, pseudo)
    return float((clf.predict(f_source_val) == y_source_val).mean())


def label_free_scores(source_val: tuple[np.ndarray, np.ndarray, np.ndarray], target: tuple[np.ndarray, np.ndarray],
                      f_source_train: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Every validator. ``source_val``: (features, probabilities, labels); ``target``:
    (features, probabilities) of the unlabelled target; ``f_source_train``: source training
    features, the domain classifier's source side (DEV)."""
    f_sv, p_sv, y_sv = source_val
    f_t, p_t = target
    loss_sv = -np.log(np.clip(p_sv[np.arange(len(y_sv)), y_sv], EPS, 1.0))
    return {
        "source_acc": float((p_sv.argmax(1) == y_sv).mean()),
        "entropy": entropy_score(p_t),
        "info_max": info_max_score(p_t),
        "snd": snd_score(p_t),
        "dev": -dev_risk(f_source_train, f_t, f_sv, loss_sv, seed),
        "reverse": reverse_accuracy(f_t, p_t, f_sv, y_sv, seed),
    }


# The validator the app chooses with: the smallest regret on the target VALIDATION splits of
# the da-select benchmark (benchmarks/adaptation_selection.py; BENCHMARKS.md has its table),
# and the runner-up, which a verdict needs to agree with it.
CHOSEN = "reverse"
SECOND = "dev"


@dataclass(frozen=True)
class Verdict:
    label: str  # likely helped | likely hurt | cannot tell
    headline: str  # one sentence with the deciding figures
    evidence: list[tuple[str, float, float]]  # (validator label, source-only twin, this run)
    gap: tuple[float, float] | None = None  # proxy A-distance (twin's features, this run's)


def verdict(run: Mapping[str, float], twin: Mapping[str, float], chosen: str = CHOSEN,
            second: str = SECOND) -> Verdict | None:
    """Whether adaptation helped, from the run's validators and its source-only twin's (the
    linear probe on the source's pretrained features, tlcore.train.label_free), both as
    "validators.<name>" dicts; None when either lacks them (a run without a source, say).
    "likely helped" when the two best validators (by benchmark regret) both rate the run
    higher than the twin, "likely hurt" when both rate it lower, else "cannot tell"."""
    names = [v for v in VALIDATORS if run.get(f"validators.{v}") is not None
             and twin.get(f"validators.{v}") is not None]
    if chosen not in names or second not in names:
        return None
    evidence = [(VALIDATORS[v], float(twin[f"validators.{v}"]), float(run[f"validators.{v}"])) for v in names]
    diff = {v: run[f"validators.{v}"] - twin[f"validators.{v}"] for v in (chosen, second)}
    gap = (twin["gap.a_distance"], run["gap.a_distance"]) \
        if run.get("gap.a_distance") is not None and twin.get("gap.a_distance") is not None else None
    said = "; ".join(f"{VALIDATORS[v]} {twin[f'validators.{v}']:.3f} for source only, {run[f'validators.{v}']:.3f} "
                     "for this run" for v in (chosen, second))
    if diff[chosen] > 0 and diff[second] > 0:
        label, opening = "likely helped", "Adaptation likely helped"
    elif diff[chosen] < 0 and diff[second] < 0:
        label, opening = "likely hurt", "Adaptation likely hurt"
    else:
        label, opening = "cannot tell", "Cannot tell whether adaptation helped (the two validators disagree)"
    return Verdict(label, f"{opening}: {said}.", evidence, gap)
