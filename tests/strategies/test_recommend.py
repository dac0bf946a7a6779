"""The adaptation method the app recommends, checked against the benchmark that chose it
(on the target validation split): a new benchmark run that chooses otherwise, or figures
copied wrong, fail here."""
import json
from pathlib import Path

import pytest

from tlcore.strategies import list_strategies
from tlcore.strategies.recommend import recommended_adaptation

RESULTS = Path(__file__).resolve().parents[2] / "BENCHMARKS.json"
PAIRS = {"mnist → syndigits", "syndigits → mnist", "mnist → mnist-m"}


@pytest.fixture(scope="module")
def chosen():
    stored = json.loads(RESULTS.read_text())
    assert "da-pretrained:full" in stored, "the full pretrained DA grid is what the recommendation rests on"
    return stored["da-pretrained:full"]["recommended"]


def test_the_recommendation_is_the_benchmarks_choice_with_its_figures(chosen):
    rec = recommended_adaptation()
    assert (rec.strategy, dict(rec.params)) == (chosen["strategy"], chosen["params"])
    assert set(rec.measured) == set(chosen["test"]) == PAIRS
    for pair, (before, after) in rec.measured.items():
        assert [before, after] == pytest.approx([100 * v for v in chosen["test"][pair]], abs=0.05), pair


def test_the_recommendation_says_why_in_figures():
    rec = recommended_adaptation()
    assert rec.strategy in list_strategies()
    why = rec.why()
    assert all(pair in why for pair in PAIRS) and "validation" in why
    for before, after in rec.measured.values():
        assert f"{after - before:+.1f} points" in why
