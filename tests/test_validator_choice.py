"""The validators the app chooses and judges with are the ones the da-select benchmark ranks
best on the target VALIDATION splits: a new benchmark run that ranks otherwise fails here."""
import json
from pathlib import Path

from tlcore.search.candidates import recipes
from tlcore.validators import CHOSEN, SECOND

RESULTS = Path(__file__).resolve().parents[1] / "BENCHMARKS.json"


def test_chosen_validators_are_the_benchmarks_two_best():
    stored = json.loads(RESULTS.read_text())["da-select:full"]
    assert stored["validator_ranking"][:2] == [CHOSEN, SECOND]
    assert stored["auto"]["validator"] == CHOSEN


def test_adapt_automatically_tries_source_only_and_only_benchmarked_methods():
    from benchmarks.adaptation_selection import METHODS
    stored = json.loads(RESULTS.read_text())["da-select:full"]
    measured = {(METHODS[m][0], METHODS[m][1]) for m in stored["settings"]["methods"]}
    adaptation = [r for r in recipes() if r.needs_source]
    assert (adaptation[0].strategy, adaptation[0].freeze) == ("source_only", "all")  # the twin is a candidate
    assert {(r.strategy, r.freeze) for r in adaptation} <= measured
