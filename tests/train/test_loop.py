"""The loop's promises: feature cache, resume, stop, NaN guard, determinism, summary."""
import json

import pytest
import torch

from tlcore import fit
from tlcore.config import DataConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig, StrategyConfig
from tlcore.train import ConfigError, validate_config
from tlcore.train.events import EpochEnded, RunEnded, RunStarted, StepEnded


def digits_config(**kw) -> RunConfig:
    base = dict(data=DataConfig(target="syndigits", per_class=15, image_size=28),
                model=ModelConfig(backbone="dann_digits_cnn", weights="none", freeze="none"),
                strategy=StrategyConfig("finetune"), optim=OptimConfig(name="sgd", lr=0.02),
                schedule=ScheduleConfig(epochs=3), batch_size=16, seed=3)
    base.update(kw)
    return RunConfig(**base)


def probe_config(epochs: int) -> RunConfig:
    """The real pretrained default as a linear probe: every backbone stage frozen, the head
    trained by SGD epochs on the feature cache (the convex solver is tests/test_linear_head.py)."""
    return RunConfig(data=DataConfig(target="syndigits", per_class=10, image_size=64),
                     model=ModelConfig(freeze="all"), optim=OptimConfig(head_solver="sgd"),
                     schedule=ScheduleConfig(epochs=epochs), batch_size=16)


def count_backbone_calls(strategy) -> list:
    calls = []
    strategy.backbone.body.register_forward_hook(lambda *a: calls.append(1))
    return calls


def test_feature_cache_runs_the_backbone_only_before_the_first_epoch(monkeypatch):
    from tlcore.train import context
    created = []
    original = context.create_strategy

    def spy(*args, **kwargs):
        s = original(*args, **kwargs)
        created.append(count_backbone_calls(s))
        return s

    monkeypatch.setattr(context, "create_strategy", spy)
    events = []
    r2 = fit(probe_config(2), listeners=[events.append])
    r6 = fit(probe_config(6))
    assert r2.summary["feature_cache"] and r6.summary["feature_cache"]
    assert next(e for e in events if isinstance(e, RunStarted)).feature_cache
    assert len(created[0]) == len(created[1]) > 0  # 6 epochs ran the backbone no more than 2 did
    assert r6.summary["target.test.accuracy"] > 0.3  # pretrained features of printed digits separate


def test_no_feature_cache_when_the_backbone_trains():
    assert not fit(digits_config(schedule=ScheduleConfig(epochs=1))).summary["feature_cache"]


def test_same_seed_same_result_on_cpu():
    a, b = fit(digits_config()), fit(digits_config())
    assert a.summary["target.test.accuracy"] == b.summary["target.test.accuracy"]
    assert a.history == b.history


def test_stop_flag_stops_at_the_next_step_and_keeps_a_checkpoint(tmp_path):
    steps = []
    r = fit(digits_config(), out_dir=tmp_path, should_stop=lambda: len(steps) >= 3,
              listeners=[lambda e: steps.append(e) if isinstance(e, StepEnded) else None])
    assert r.status == "stopped" and len(steps) == 3 and r.summary["epochs_run"] == 1
    assert json.loads((tmp_path / "checkpoints" / "last.json").read_text())["epoch"] == 1
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "stopped"


def test_resume_from_a_checkpoint_continues_to_the_same_end(tmp_path):
    full = fit(digits_config(), out_dir=tmp_path / "full")
    epochs_ended = []
    part = fit(digits_config(schedule=ScheduleConfig(epochs=3)), out_dir=tmp_path / "part",
               listeners=[lambda e: epochs_ended.append(e) if isinstance(e, EpochEnded) else None],
               should_stop=lambda: len(epochs_ended) >= 2)  # asked as epoch 2 ends: the loop stops there
    assert part.status == "stopped" and part.summary["epochs_run"] == 2
    resumed = fit(digits_config(), out_dir=tmp_path / "part", resume=True)
    assert resumed.status == "finished" and resumed.summary["epochs_run"] == 3
    assert resumed.summary["target.test.accuracy"] == pytest.approx(full.summary["target.test.accuracy"])
    assert [h["target.val.accuracy"] for h in resumed.history] == \
        pytest.approx([h["target.val.accuracy"] for h in full.history])


def test_nan_loss_stops_with_a_clear_message(tmp_path):
    events = []
    r = fit(digits_config(optim=OptimConfig(name="sgd", lr=1e12), schedule=ScheduleConfig(epochs=3)),
              out_dir=tmp_path, listeners=[events.append])
    assert r.status == "failed"
    end = next(e for e in events if isinstance(e, RunEnded))
    assert "the loss became" in end.error and "lower learning rate than 1e+12" in end.error
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "failed"


def test_summary_names_its_numbers_plainly(tmp_path):
    r = fit(digits_config(schedule=ScheduleConfig(epochs=1)), out_dir=tmp_path)
    s = json.loads((tmp_path / "summary.json").read_text())
    for key in ("target.test.accuracy", "target.test.macro_f1", "target.test.macro_recall",
                "before.target.test.accuracy", "best.target.val.accuracy", "wall_time_s", "device",
                "precision", "throughput_img_s", "target.test.per_class", "target.test.confusion_matrix"):
        assert key in s, key
    assert s["device"] == "cpu" and s["precision"] == "fp32"
    assert sum(map(sum, s["target.test.confusion_matrix"])) == 20  # 2 test images a class
    assert r.summary == s
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()] \
        if (tmp_path / "metrics.jsonl").exists() else []
    assert lines == []  # the JSONL writer is a callback the caller chooses (the CLI adds it)


def test_events_arrive_in_order():
    events = []
    fit(digits_config(schedule=ScheduleConfig(epochs=2)), listeners=[events.append])
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunEnded" and kinds.count("EpochEnded") == 2
    epoch_ends = [e for e in events if isinstance(e, EpochEnded)]
    assert epoch_ends[0].metrics["target.val.accuracy"] >= 0


def test_eval_every_skips_evaluation_between_and_always_evaluates_the_last_epoch():
    events = []
    result = fit(digits_config(schedule=ScheduleConfig(epochs=5, eval_every=2)), listeners=[events.append])
    evaluated = [e.epoch for e in events if isinstance(e, EpochEnded) and "target.test.accuracy" in e.metrics]
    assert evaluated == [2, 4, 5]
    assert [e.epoch for e in events if isinstance(e, EpochEnded)] == [1, 2, 3, 4, 5]
    assert result.summary["best_epoch"] in (2, 4, 5) and result.summary["target.test.accuracy"] is not None


@pytest.mark.parametrize("changes, message", [
    (dict(strategy=StrategyConfig("dann")), "needs a labelled source"),
    (dict(schedule=ScheduleConfig(eval_every=0)), "eval_every"),
    (dict(strategy=StrategyConfig("nope")), "valid choices"),
    (dict(model=ModelConfig(backbone="resnet19")), "valid choices"),
    (dict(data=DataConfig(image_size=0)), "image size"),
    (dict(batch_size=1), "batch size"),
    (dict(data=DataConfig(target_labels_per_class=0)), "needs labelled target images"),
])
def test_bad_configs_are_refused_before_anything_runs(changes, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(digits_config(**changes))


def test_config_json_round_trip(tmp_path):
    cfg = digits_config(strategy=StrategyConfig("dann", {"hidden": 64}), data=DataConfig(source="mnist"))
    cfg.to_json(tmp_path / "c.json")
    assert RunConfig.from_json(tmp_path / "c.json") == cfg
    with pytest.raises(ValueError, match="unknown keys in config.optim: lrate"):
        RunConfig.from_dict({"optim": {"lrate": 1}})


def test_bf16_autocast_on_cpu_runs():
    r = fit(digits_config(precision="bf16", schedule=ScheduleConfig(epochs=1)))
    assert r.status == "finished" and r.summary["precision"] == "bf16"
    assert torch.isfinite(torch.tensor(r.summary["target.test.accuracy"]))
