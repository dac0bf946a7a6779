"""Successive halving under a time budget, on the validation split only.

Every candidate trains one epoch (rung 0); the better half by target val accuracy goes on to
3 epochs, the better half of those to the full schedule. A candidate stops at a rung by
the loop's stop between epochs and resumes from its checkpoint, so its cosine schedule is
the full one throughout. Candidates never evaluate on test: their test score is never
computed. A candidate goes on to a rung only if that still leaves time to evaluate the
winner (tlcore.runs.search_run keeps it and evaluates it once, on test too).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import RunConfig
from ..fitting import fit
from ..train.events import EpochEnded
from ..validators import CHOSEN
from .candidates import Recipe, candidate_configs, epochs_for

RUNGS = (1 / 12, 1 / 4, 1)  # of a candidate's epochs: 1, 3 and 12 of the usual 12
DEFAULT_BUDGET_S = 180  # fits a CPU: the demo, or a 200-image upload at 64 px, on 2 cores
MIN_BUDGET_S = 20  # below this not even the linear head and its retraining fit
SETUP_GUESS_S = 5.0  # data, model and features of a candidate before its first step, until measured
# The winner's evaluation costs more than a candidate's set-up: it adds the before-transfer
# probe's features of train, val and test, then a pass over test (an LP-FT winner at 128 px
# on the demo: 40 s against a set-up of about 25 s; reserving 1x, a 180 s search took 205 s).
EVALUATION_VS_SETUP = 2.0


class SearchError(ValueError):
    """A search that cannot start or cannot finish one candidate; the message says why."""


@dataclass
class Candidate:
    recipe: Recipe
    config: RunConfig
    folder: Path
    epochs_done: int = 0
    val_accuracy: float | None = None
    val_loss: float | None = None
    seconds: float = 0.0
    epoch_seconds: float | None = None  # per epoch, measured
    setup_seconds: float = SETUP_GUESS_S
    status: str = "waiting"  # waiting | training | kept | pruned | out of budget | failed
    note: str = ""
    # Without target labels (--target-labels 0) candidates are ranked by the label-free
    # validator (tlcore.validators.CHOSEN), never by the target's val labels.
    label_free: bool = False
    validator: float | None = None

    def score(self) -> tuple:
        """Higher is better: val accuracy (label-free: the validator), then lower val loss, then
        cheaper (earlier) recipes."""
        if self.label_free:
            return (self.validator if self.validator is not None else -float("inf"),)
        return (self.val_accuracy if self.val_accuracy is not None else -1.0,
                -(self.val_loss if self.val_loss is not None else float("inf")))

    def cost_to(self, epochs: int, guess: float) -> float:
        """Seconds to train on from where it is to ``epochs`` (``guess``: seconds per epoch
        until this candidate's are measured)."""
        per_epoch = self.epoch_seconds if self.epoch_seconds is not None else guess
        return self.setup_seconds + per_epoch * max(epochs - self.epochs_done, 0)

    def row(self) -> dict:
        return {"recipe": self.recipe.name, "description": self.recipe.description,
                "strategy": self.config.strategy.name, "freeze": self.config.model.freeze,
                "augment": self.config.data.augment, "epochs": self.epochs_done,
                "val_accuracy": self.val_accuracy, "val_loss": self.val_loss, "seconds": round(self.seconds, 1),
                **({"validator": self.validator, "validator_name": CHOSEN} if self.label_free else {}),
                "status": self.status, "note": self.note}


@dataclass
class SearchOutcome:
    candidates: list[Candidate]
    winner: Candidate
    seconds: float
    stopped: bool = False
    log: list[str] = field(default_factory=list)

    def leaderboard(self) -> list[dict]:
        ranked = sorted(self.candidates, key=lambda c: c.score(), reverse=True)
        return [{**c.row(), "winner": c is self.winner} for c in ranked]


def search(base: RunConfig, folder: str | Path, budget_s: float, on_update: Callable[[list[dict]], None] = None,
           should_stop: Callable[[], bool] | None = None) -> SearchOutcome:
    """Try the candidates for ``base``'s data within ``budget_s`` seconds (the winner's
    retraining included), each in ``folder``/<n>; return them with the winner."""
    if budget_s < MIN_BUDGET_S:
        raise SearchError(f"a budget of {budget_s:g} s is too small for even one candidate: give at least "
                          f"{MIN_BUDGET_S} s (the default, {DEFAULT_BUDGET_S} s, fits the demo on 2 CPU cores)")
    started, deadline = time.monotonic(), time.monotonic() + budget_s
    target_images, source_images = _labelled_images(base)
    epochs = [epochs_for(n, base.batch_size) for n in (target_images, max(target_images, source_images))]
    label_free = base.data.target_labels_per_class == 0
    cands = [Candidate(r, c, Path(folder) / f"{i}-{r.strategy}", label_free=label_free)
             for i, (r, c) in enumerate(candidate_configs(base, *epochs))]
    if not cands:
        raise SearchError("no recipe applies: the target needs labelled images (--target-labels is 0) or a "
                          "source set (--source)")
    report = (lambda: on_update([c.row() for c in cands])) if on_update else (lambda: None)
    stop = should_stop or (lambda: False)
    alive = list(cands)
    for rung, fraction in enumerate(RUNGS):
        for cand in sorted(alive, key=lambda c: c.score(), reverse=True):
            target = max(1, round(fraction * cand.config.schedule.epochs))
            if stop() or cand.epochs_done >= target or cand.status in ("failed", "out of budget"):
                continue
            if not _fits(cand, target, cands, deadline):
                cand.status = "out of budget"
                cand.note = f"stopped at {cand.epochs_done} epoch(s)" if cand.epochs_done else "not started"
                continue
            _train_to(cand, target, stop, report)
        alive = _halve(alive, rung, report)
    return _outcome(cands, started, stop())


def _labelled_images(base: RunConfig) -> tuple[int, int]:
    """The labelled target and source training images (a target-only recipe's epoch walks
    the first, an adaptation recipe's the larger), and a clear refusal for data the search
    cannot rank candidates on."""
    from ..data.run_data import prepare_data
    data = prepare_data(base)
    labels = data.target.labels[data.target_labelled]
    counts = np.bincount(labels, minlength=len(data.class_names))
    thin = [data.class_names[c] for c in np.flatnonzero(counts < 2)] if not base.data.source else []
    if thin:
        raise SearchError(f"too few labelled training images in class(es) {', '.join(map(repr, thin[:5]))} "
                          "(fewer than 2 after the val/test split): add images, or drop the class")
    if not len(data.target_index("val")):
        raise SearchError("the target has no validation images to rank the recipes on: it needs more images")
    return len(data.target_labelled), len(data.source_index("train")) if data.source is not None else 0


def _fits(cand: Candidate, target: int, cands: list[Candidate], deadline: float) -> bool:
    """Whether training ``cand`` on to ``target`` epochs, then evaluating the winner (about
    EVALUATION_VS_SETUP x the slowest set-up), ends before the deadline. Unmeasured candidates
    are guessed at the slowest epoch measured so far (the recipes come cheapest first)."""
    measured = [c.epoch_seconds for c in cands if c.epoch_seconds is not None and c.recipe.freeze != "all"]
    guess = max(measured, default=SETUP_GUESS_S)
    reserve = EVALUATION_VS_SETUP * max(c.setup_seconds for c in cands)
    return time.monotonic() + cand.cost_to(target, guess) + reserve <= deadline


def _train_to(cand: Candidate, epochs: int, stop: Callable[[], bool], report: Callable[[], None]) -> None:
    """Train ``cand`` on to ``epochs`` (resuming its folder), stopping between epochs there."""
    cand.status = "training"
    report()
    t0, first = time.monotonic(), cand.epochs_done
    watch = _EpochWatch()
    try:
        result = fit(cand.config, cand.folder, [watch], should_stop=lambda: stop() or watch.done >= epochs,
                     resume=cand.epochs_done > 0)
    except (ValueError, RuntimeError) as exc:  # one candidate that cannot run does not end the search
        cand.status, cand.note = "failed", f"{type(exc).__name__}: {exc}"[:300]
        report()
        return
    elapsed = time.monotonic() - t0
    cand.seconds += elapsed
    if result.status == "failed":
        cand.status, cand.note = "failed", str(result.summary.get("error") or "")[:300]
    else:
        last = result.history[-1] if result.history else {}
        cand.epochs_done = last.get("epoch", cand.epochs_done)
        cand.val_accuracy, cand.val_loss = last.get("target.val.accuracy"), last.get("target.val.loss")
        cand.validator = last.get(f"validators.{CHOSEN}")
        trained = max(cand.epochs_done - first, 1)
        cand.setup_seconds = max(elapsed - result.summary.get("train_time_s", 0.0), 0.0)
        cand.epoch_seconds = result.summary.get("train_time_s", elapsed) / trained
        cand.status = "kept"
    report()


class _EpochWatch:
    """The last epoch that ended: the loop stops between epochs when the rung is reached."""
    done = 0

    def __call__(self, event) -> None:
        if isinstance(event, EpochEnded):
            self.done = event.epoch


def _halve(alive: list[Candidate], rung: int, report) -> list[Candidate]:
    """The better half (rounded up) of the candidates that still have epochs to train goes on.
    A finished one (a linear head: its one fit is its whole schedule) costs nothing more, so
    it stays in the running without taking a place: on the demo the two linear heads took
    both places after rung 2 and pruned 'last two stages' at 0.83 val, which reached 0.91
    with its whole schedule."""
    if rung == len(RUNGS) - 1:
        return alive
    ranked = sorted((c for c in alive if c.status == "kept"), key=lambda c: c.score(), reverse=True)
    done = [c for c in ranked if c.epochs_done >= c.config.schedule.epochs]
    training = [c for c in ranked if c not in done]
    going_on = training[:-(-len(training) // 2)]
    for cand in ranked:
        if cand not in done and cand not in going_on:
            cand.status, cand.note = "pruned", f"after {cand.epochs_done} epoch(s), rung {rung + 1}"
    report()
    return done + going_on


def _outcome(cands: list[Candidate], started: float, stopped: bool) -> SearchOutcome:
    scored = [c for c in cands if (c.validator if c.label_free else c.val_accuracy) is not None]
    if not scored:
        problems = "; ".join(f"{c.recipe.name}: {c.note}" for c in cands if c.note) or "no candidate finished"
        raise SearchError(f"no candidate could be trained within the budget ({problems})")
    # max() keeps the first of equals: the cheaper recipe wins a tie.
    winner = max(scored, key=lambda c: c.score())
    return SearchOutcome(cands, winner, time.monotonic() - started, stopped)
