"""Label-free validation in the loop, on the real pretrained default and built-in digit
domains: every evaluation of an adaptation run records the validators, the run carries its
source-only twin's, and without target labels the best epoch is the validator's pick."""
import numpy as np
import pytest
import torch

from tlcore import fit
from tlcore.config import DataConfig, FeatureMapConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig, \
    StrategyConfig
from tlcore.train import train
from tlcore.train.events import RunStarted
from tlcore.validators import CHOSEN, VALIDATORS, verdict


def da_config(strategy="dann", params=None, labels=0, epochs=2) -> RunConfig:
    return RunConfig(data=DataConfig(target="mnist-m", source="mnist", target_labels_per_class=labels, image_size=32,
                                     per_class=12),
                     model=ModelConfig(freeze="last:1"), strategy=StrategyConfig(strategy, params or {}),
                     optim=OptimConfig(lr=3e-4), schedule=ScheduleConfig(epochs=epochs, eval_every=1),
                     feature_map=FeatureMapConfig(every=0), batch_size=16, seed=1)


@pytest.fixture(scope="module")
def dsbn_run():
    return train(da_config(params={"bn_mode": "domain", "head_init": "source_probe"}))


def test_every_evaluation_records_the_validators_and_the_twin_is_in_the_summary(dsbn_run):
    assert dsbn_run.status == "finished"
    for row in dsbn_run.history:
        assert all(np.isfinite(row[f"validators.{v}"]) for v in VALIDATORS)
        assert 0.0 <= row["gap.a_distance"] <= 2.0
    s = dsbn_run.summary
    assert all(np.isfinite(s[f"twin.validators.{v}"]) for v in VALIDATORS)
    # The twin is the source probe: its source val accuracy is well above chance on digits.
    assert s["twin.validators.source_acc"] > 0.3
    # Without target labels the best epoch is the validator's, and the summary says so.
    assert s["best_by"] == f"validators.{CHOSEN}"
    values = [row[f"validators.{CHOSEN}"] for row in dsbn_run.history]
    assert s["best_epoch"] == 1 + int(np.argmax(values))
    twin = {k[len("twin."):]: v for k, v in s.items() if k.startswith("twin.")}
    assert verdict(s, twin).label in ("likely helped", "likely hurt", "cannot tell")


def test_domain_specific_batchnorm_evaluates_the_target_with_its_own_statistics(dsbn_run):
    strategy = dsbn_run.strategy
    target, source = strategy.eval_model("target"), strategy.eval_model("source")
    assert target is not source
    bn_t = [m for m in target.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    bn_s = [m for m in source.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert not torch.allclose(bn_t[-1].running_mean, bn_s[-1].running_mean)


def test_a_source_probe_head_starts_where_the_source_only_linear_head_ends():
    """head_init source_probe: the head before the first step is the optimal linear head on the
    source's pretrained features, the same one a frozen source_only run ends on."""
    probe = train(da_config("source_only").replace(model=ModelConfig(freeze="all")))
    started = []

    def at_start(event):  # the strategy set up, before its first step
        if isinstance(event, RunStarted):
            started.append(event.strategy.backbone.head.weight.detach().clone())

    train(da_config(params={"head_init": "source_probe"}, epochs=1), [at_start],
          should_stop=lambda: bool(started))
    assert torch.allclose(probe.strategy.backbone.head.weight, started[0], atol=1e-5)


def test_with_target_labels_the_best_epoch_stays_on_target_val(tmp_path):
    result = fit(da_config(labels=3), tmp_path)
    assert "best_by" not in result.summary


def test_mcc_adapts_a_frozen_trunk_on_cached_features():
    """MCC acts on predictions only: with every stage frozen it trains the head on the feature
    cache, starting from the source probe, and the head moves."""
    started = []
    result = train(da_config("mcc", {"head_init": "source_probe"}, epochs=1).replace(model=ModelConfig(freeze="all")),
                   [lambda e: started.append(e.strategy.backbone.head.weight.detach().clone())
                    if isinstance(e, RunStarted) else None])
    assert result.status == "finished" and result.summary["feature_cache"] is True
    assert not torch.allclose(started[0], result.strategy.backbone.head.weight)
