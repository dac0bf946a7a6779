"""A recipe search as a run of the store: the candidates are tried in RUN/candidates/ (the
leaderboard, live, in RUN/leaderboard.json), then the winner is kept: its last checkpoint
becomes the run's and is evaluated once with the run's listeners, so the search ends as an
ordinary run: its config.json is the winner's (a replay retrains it: the same schedule,
ended at the epoch it was chosen at), its summary has the winner's test score and, under
"search", the leaderboard with validation scores and seconds (no other test score exists).
"""
from __future__ import annotations

import dataclasses
import shutil
import time

from ..run_folder import RunFolder
from ..search import SearchOutcome, search
from ..train import TrainResult, train
from ..train.events import RunEnded



def run_search(config, folder: RunFolder, listeners: list, should_stop) -> TrainResult:
    """Search, then keep the winner here; ``listeners`` hear only the winner's evaluation."""
    started, budget = time.time(), config.search_budget_s
    write = lambda phase, rows, **extra: folder.write_leaderboard(  # noqa: E731
        {"phase": phase, "budget_s": budget, "started": started, "candidates": rows, **extra})
    write("searching", [])
    outcome = search(config, folder.file(folder.CANDIDATES), budget, lambda rows: write("searching", rows), should_stop)
    winner = outcome.winner
    final = _winner_config(config, outcome)
    write("evaluating", outcome.leaderboard(), winner=winner.recipe.name)
    # Keep the winner: its last checkpoint (the model it was scored with) becomes this run's,
    # resumed with nothing left to train, so it is evaluated once, on test too.
    _keep_last_checkpoint(RunFolder(winner.folder), folder)
    note = _SearchInSummary(outcome, budget, started)
    result = train(final, [note, *listeners], should_stop, resume_from=folder)
    write("done" if result.status == "finished" else result.status, outcome.leaderboard(), winner=winner.recipe.name,
          retrained_val_accuracy=result.summary.get("target.val.accuracy"), seconds=round(time.time() - started, 1))
    _drop_candidate_checkpoints(folder)
    return result


def _winner_config(config, outcome: SearchOutcome):
    """The winner's config: its schedule, ended at the epoch it was chosen at (a
    candidate pruned or out of budget at rung k was scored there), under the search run's
    name, with the search run's feature map and test evaluation."""
    winner = outcome.winner
    schedule = winner.config.schedule
    stop_after = winner.epochs_done if 0 < winner.epochs_done < schedule.epochs else 0
    name = config.name or f"best recipe: {winner.recipe.name}"
    return winner.config.replace(name=name, feature_map=config.feature_map,
                                 schedule=dataclasses.replace(schedule, stop_after_epochs=stop_after, eval_test=True))


class _SearchInSummary:
    """Adds the leaderboard to the winner's summary as the run ends (before the listeners
    after it write summary.json and the store row)."""

    def __init__(self, outcome: SearchOutcome, budget: float, started: float):
        self.outcome, self.budget, self.started = outcome, budget, started

    def __call__(self, event) -> None:
        if isinstance(event, RunEnded):
            event.summary["search"] = {
                "budget_s": self.budget, "seconds": round(time.time() - self.started, 1),
                "search_seconds": round(self.outcome.seconds, 1), "winner": self.outcome.winner.recipe.name,
                "chosen_on": "target.val.accuracy (then val loss); test scores of the other candidates were "
                             "never computed",
                "candidates": self.outcome.leaderboard()}


def _keep_last_checkpoint(candidate: RunFolder, run: RunFolder) -> None:
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    for name in (run.LAST_WEIGHTS, run.LAST_STATE, run.LAST_LOOP):
        shutil.copy2(candidate.checkpoints / name, run.checkpoints / name)


def _drop_candidate_checkpoints(folder: RunFolder) -> None:
    """The candidates' weights are not needed once the winner is retrained (their configs
    and summaries stay, to look at)."""
    for candidate in folder.file(folder.CANDIDATES).glob("*"):
        shutil.rmtree(RunFolder(candidate).checkpoints, ignore_errors=True)
