"""A recipe search as a run of the store: the candidates are tried in RUN/candidates/ (the
leaderboard, live, in RUN/artifacts/leaderboard.json), then the winner is retrained in the
run itself with the run's listeners, so the search ends as an ordinary run: its config.json
is the winner's (a replay retrains it), its summary has the winner's test score and, under
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
    """Search, then retrain the winner here; ``listeners`` hear only the winner's training."""
    started, budget = time.time(), config.search_budget_s
    write = lambda phase, rows, **extra: folder.write_leaderboard(  # noqa: E731
        {"phase": phase, "budget_s": budget, "started": started, "candidates": rows, **extra})
    write("searching", [])
    outcome = search(config, folder.file(folder.CANDIDATES), budget, lambda rows: write("searching", rows), should_stop)
    winner = outcome.winner
    final = _winner_config(config, outcome)
    write("retraining", outcome.leaderboard(), winner=winner.recipe.name)
    note = _SearchInSummary(outcome, budget, started)
    result = train(final, [note, *listeners], should_stop)
    write("done" if result.status == "finished" else result.status, outcome.leaderboard(), winner=winner.recipe.name,
          retrained_val_accuracy=result.summary.get("target.val.accuracy"), seconds=round(time.time() - started, 1))
    _drop_candidate_checkpoints(folder)
    return result


def _winner_config(config, outcome: SearchOutcome):
    """The winner's config to retrain: as many epochs as it trained in the search (a cosine
    schedule over them), under the search run's name."""
    winner = outcome.winner
    epochs = max(winner.epochs_done, 1)
    name = config.name or f"best recipe: {winner.recipe.name}"
    return winner.config.replace(name=name, feature_map=config.feature_map,
                                 schedule=dataclasses.replace(winner.config.schedule, epochs=epochs, eval_test=True))


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


def _drop_candidate_checkpoints(folder: RunFolder) -> None:
    """The candidates' weights are not needed once the winner is retrained (their configs
    and summaries stay, to look at)."""
    for candidate in folder.file(folder.CANDIDATES).glob("*"):
        shutil.rmtree(RunFolder(candidate).checkpoints, ignore_errors=True)
