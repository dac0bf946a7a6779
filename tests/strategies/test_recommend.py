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


def test_the_automatic_choice_figures_are_the_benchmarks():
    from tlcore.strategies.recommend import automatic_adaptation
    auto = automatic_adaptation()
    stored = json.loads(RESULTS.read_text())["da-select:full"]
    assert auto.validator == stored["auto"]["validator"]
    runs = stored["runs"]
    assert set(auto.measured) == set(stored["auto"]["gain_by_pair"])
    for pair, (before, after) in auto.measured.items():
        base = [r["acc"] for r in runs if r["pair"] == pair and r["method"] == "source only"]
        assert before == pytest.approx(100 * sum(base) / len(base), abs=0.05), pair
        assert after - before == pytest.approx(100 * stored["auto"]["gain_by_pair"][pair], abs=0.1), pair
    assert "worst pair" in auto.why()


def test_the_verdict_record_is_the_benchmarks():
    from tlcore.strategies.recommend import automatic_adaptation
    stored = json.loads(RESULTS.read_text())["da-select:full"]["verdict"]
    verdicts = automatic_adaptation().verdicts
    assert set(verdicts) == set(stored)
    for label, (right, n) in verdicts.items():
        assert n == stored[label]["n"], label
        assert right == (stored[label]["right"] or 0), label
    assert "8 of 10" in automatic_adaptation().verdict_record()
