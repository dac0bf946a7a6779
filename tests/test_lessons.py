"""The Learn page's lessons (tlcore.lessons) and their stored results (assets/lessons/, made
by `python -m benchmarks.learn_results`): each lesson is a valid run of the method it
teaches, its stored result was trained with exactly the lesson's settings, and what the page
says (helped / hurt / no change) follows from the numbers."""
import json
from pathlib import Path

import pytest

from tlcore.config import RunConfig
from tlcore.lessons import (NOISE_POINTS, LessonResult, comparison_rows, freeze_rows, lesson, lessons, read_result,
                            weight_spread)
from tlcore.plots import lessons_figure
from tlcore.plots.training import adaptation_figure
from tlcore.run_folder import RunFolder
from tlcore.strategies import strategy_info

STORED = Path(__file__).resolve().parents[1] / "assets" / "lessons"
# What may differ between the stored run and a lesson's config: where and how it ran.
RUN_SPECIFIC = ("environment", "device", "threads")


def test_one_lesson_per_kind_of_transfer_in_teaching_order():
    assert [x.kind for x in lessons()] == ["Instance-based transfer", "Feature-based transfer",
                                          "Model-based transfer", "Adversarial domain adaptation"]
    for x in lessons():
        assert len(x.idea) < 700 and x.papers and x.look, x.key  # short text, cited


@pytest.mark.parametrize("key", [x.key for x in lessons()])
def test_a_lesson_is_a_valid_run_of_its_method(key):
    x = lesson(key)
    config = x.config()
    info = strategy_info(config.strategy.name)
    assert info.needs_source == (config.data.source is not None)
    if config.data.source:  # adaptation: no target label is used
        assert config.data.target_labels_per_class == 0 and not info.needs_target_labels
    else:  # fine-tuning on every labelled target training image
        assert config.data.target_labels_per_class is None
    assert config.feature_map.every == 1 and config.feature_map.layout == "umap"  # the figures read snapshots
    assert RunConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("key", [x.key for x in lessons()])
def test_the_stored_result_was_trained_with_the_lesson_s_settings(key):
    folder = RunFolder(STORED / key)
    stored, wanted = folder.config().to_dict(), lesson(key).config().to_dict()
    for name in RUN_SPECIFIC:
        stored.pop(name, None)
        wanted.pop(name, None)
    assert stored == wanted, "stale: rerun python -m benchmarks.learn_results --only " + key
    result = read_result(key, folder)
    assert result is not None and result.epochs == 5
    assert all(0 <= v <= 1 for v in (*result.before.values(), *result.after.values()))
    assert (folder.snapshots / "probe.json").exists() and len(list(folder.snapshots.glob("epoch_*.json"))) == 6
    assert all(json.loads(p.read_text())["gap"] for p in folder.snapshots.glob("epoch_*.json"))  # laid out
    assert sum(p.stat().st_size for p in folder.path.rglob("*")) < 1_000_000  # small enough to ship


def test_the_stored_dann_run_reads_back_as_the_store_s_rows():
    rows = RunFolder(STORED / "adversarial").metric_rows()
    names = {(r["split"], r["name"]) for r in rows}
    assert {("train", "domain_acc"), ("train", "lambda"), ("target.val", "accuracy")} <= names
    lam = [r["value"] for r in rows if r["name"] == "lambda"]
    assert lam[0] < 0.1 and lam[-1] > 0.9  # the GRL ramp 2/(1+exp(-10p))-1 from 0 to 1
    epochs = [r for r in rows if r["split"] == "target.val" and r["name"] == "accuracy"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4, 5]
    assert all(r["step"] > 0 for r in epochs)  # an epoch's numbers sit at the step it ended on
    assert adaptation_figure(rows) is not None


def test_a_truncated_metrics_line_is_skipped(tmp_path):
    folder = RunFolder(tmp_path).create()
    folder.metrics_file.write_text('{"kind": "step", "epoch": 1, "step": 1, "loss": 2.0}\n{"kind": "ep')
    assert folder.metric_rows() == [{"step": 1, "epoch": 1, "split": "train", "name": "loss", "value": 2.0}]


def test_the_verdict_follows_the_numbers_with_a_one_point_noise_band():
    def result(before, after):
        return LessonResult("x", {"accuracy": before, "macro_f1": before}, {"accuracy": after, "macro_f1": after},
                            5, 60.0)
    assert result(0.50, 0.60).verdict() == "helped"
    assert result(0.50, 0.48).verdict() == "hurt"
    assert result(0.50, 0.50 + NOISE_POINTS / 200).verdict() == "no change"
    rows = comparison_rows([result(0.5, 0.6), result(0.5, 0.4)], {"x": "lesson x"})
    assert [r["verdict"] for r in rows] == ["helped", "hurt"]
    assert rows[1]["change (points)"] == pytest.approx(-10)
    bars = lessons_figure(rows).data[1].marker.color
    assert bars[0] != bars[1]  # the one that hurt is drawn red


def test_the_stored_results_say_honestly_where_a_method_hurt():
    results = [read_result(x.key, RunFolder(STORED / x.key)) for x in lessons()]
    for r in results:
        change = r.change()
        assert r.verdict() == ("helped" if change > 1 else "hurt" if change < -1 else "no change")
    assert {r.key: r.verdict() for r in results}["model"] == "helped"  # fine-tuning on target labels


def test_freeze_map_and_weight_spread():
    rows, share = freeze_rows(lesson("model").config())
    trainable = [r.stage for r in rows if not r.frozen]
    assert trainable == ["stage6", "stage7", "head"]  # last:2 and the head
    assert share == pytest.approx(sum(r.trainable for r in rows) / sum(r.params for r in rows))
    assert weight_spread([1.0] * 10)["effective"] == pytest.approx(10)
    assert weight_spread([10.0] + [0.1] * 9)["effective"] == pytest.approx(10.9 ** 2 / 100.09)


def test_the_reference_is_the_benchmark_grid_s_three_seeds():
    ref = json.loads((STORED / "reference.json").read_text())
    for key, method in ref["lessons"].items():
        assert ref["methods"][method]["seeds"] == 3, key
    grid = json.loads((Path(__file__).resolve().parents[1] / "BENCHMARKS.json").read_text())["da-pretrained:full"]
    mmd = [r["acc"] for r in grid["runs"] if r["pair"] == ref["pair"] and r["method"] == "MMD"]
    assert ref["methods"]["MMD"]["mean"] == pytest.approx(sum(mmd) / len(mmd))
