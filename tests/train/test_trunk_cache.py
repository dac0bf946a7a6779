"""The frozen-trunk cache (tlcore.train.trunk): the split is exact for the backbone families,
a run with it is the same run as without it (same numbers, epoch for epoch), it runs the
frozen stages once instead of every epoch, and it is off, saying why, where it would not be
exact. Real pretrained default, real built-in domains."""
import dataclasses

import numpy as np
import pytest
import torch

from tlcore import fit
from tlcore.backbones import create_backbone
from tlcore.config import DataConfig, ModelConfig, RunConfig, ScheduleConfig, StrategyConfig
from tlcore.data import load_domain
from tlcore.data.pipeline import BatchPreprocess, ResizedImages, stacked_batches
from tlcore.freezing import apply_freeze
from tlcore.train.events import LogMessage, StepEnded
from tlcore.train.trunk import check_split, plan_trunk, rest_only, trunk_output


def real_batch(backbone, n=8, size=64):
    images = ResizedImages(load_domain("clipart", per_class=2), size, np.arange(n))
    x, _ = next(stacked_batches(images, n))
    return BatchPreprocess(backbone.info.mean, backbone.info.std)(x)


@pytest.mark.parametrize("name, freeze, last", [("efficientnet_lite0", "last:1", "blocks.5"),
                                                ("efficientnet_lite0", "last:2", "blocks.4"),
                                                ("resnet18", "last:1", "layer3"),
                                                ("mobilenet_v3_small", "last:2", "features.3")])
def test_the_rest_of_the_body_on_the_trunk_output_is_the_body(name, freeze, last):
    backbone = create_backbone(name, "imagenet" if name == "efficientnet_lite0" else "none", num_classes=5)
    apply_freeze(backbone, freeze, "freeze")
    x = real_batch(backbone)
    plan = plan_trunk(backbone, x)
    assert plan.last == last and "head" not in plan.stages
    assert check_split(backbone, plan, x) is None
    backbone.eval()
    with torch.no_grad():
        full, trunk = backbone.body(x), trunk_output(backbone, plan, x)
        with rest_only(backbone, plan):
            rest = backbone.body(trunk)
    assert torch.allclose(rest, full, atol=1e-5)
    assert sum(1 for _ in backbone.body.modules() if type(_).__name__ == "PassThrough") == 0  # restored


def test_a_trunk_with_stochastic_depth_is_not_cached():
    from timm.layers import DropPath
    backbone = create_backbone("efficientnet_lite0", "imagenet", num_classes=5)
    # What timm builds with drop_path_rate > 0: a residual branch dropped at random in training.
    backbone.body.blocks[3][1].drop_path = DropPath(0.5)
    apply_freeze(backbone, "last:1", "freeze")
    x = real_batch(backbone)
    assert "dropout or stochastic depth" in check_split(backbone, plan_trunk(backbone, x), x)


def clipart(**kw) -> RunConfig:
    base = dict(data=DataConfig(target="clipart", per_class=12, image_size=64), model=ModelConfig(freeze="last:1"),
                schedule=ScheduleConfig(epochs=3), batch_size=16)
    base.update(kw)
    return RunConfig(**base)


def counted(config: RunConfig, at_first_step: list | None = None):
    """(result, log lines, images through the first backbone stage's module) of a run."""
    from tlcore.train import context
    calls, lines, original = [], [], context.create_strategy

    def spy(*args, **kwargs):
        strategy = original(*args, **kwargs)
        strategy.backbone.body.get_submodule("conv_stem").register_forward_hook(
            lambda m, args, out: calls.append(len(args[0])))
        return strategy

    at_first_step = [0] if at_first_step is None else at_first_step
    context.create_strategy = spy
    try:
        result = fit(config, listeners=[
            lambda e: lines.append(e.text) if isinstance(e, LogMessage) else None,
            lambda e: at_first_step.append(sum(calls)) if at_first_step == [] and isinstance(e, StepEnded) else None])
    finally:
        context.create_strategy = original
    return result, lines, sum(calls)


def test_a_run_with_the_cache_is_the_same_run_and_runs_the_trunk_once():
    cached, lines, stem_images = counted(clipart())
    plain, _, plain_images = counted(dataclasses.replace(clipart(), feature_cache=False))
    record = cached.summary["trunk_cache"]
    assert record["stages"] == ["stem"] + [f"stage{i}" for i in range(1, 7)] and record["training"]
    assert any(line.startswith("frozen trunk cached") for line in lines)
    assert [h["target.test.accuracy"] for h in cached.history] == [h["target.test.accuracy"] for h in plain.history]
    assert cached.summary["before.target.test.accuracy"] == plain.summary["before.target.test.accuracy"]
    assert "trunk_cache" not in plain.summary
    # Without the cache every image goes through the stem at every training step and every
    # evaluation; with it, once (in the first epoch's batches and the evaluated splits' pass),
    # plus the few of the check batch.
    assert stem_images * 2 < plain_images


def test_the_first_step_does_not_wait_for_the_training_split_s_trunk():
    # The training split's outputs are computed batch by batch in the first epoch: by the
    # first step only the 8-image sample (planned, checked three ways, one image sized) and
    # that step's batch of 16 went through the stem, not the training split.
    seen = []
    result, _, _ = counted(clipart(), at_first_step=seen)
    assert seen[0] == 4 * 8 + 1 + 16 < result.summary["trunk_cache"]["images"]
    assert result.summary["trunk_cache"]["training"]


def test_an_adaptation_run_with_the_cache_is_the_same_run():
    config = RunConfig(data=DataConfig(target="mnist-m", source="mnist", per_class=12, image_size=32,
                                       target_labels_per_class=0),
                       model=ModelConfig(freeze="last:1"), strategy=StrategyConfig("dann"),
                       schedule=ScheduleConfig(epochs=2), batch_size=16)
    cached, plain = fit(config), fit(dataclasses.replace(config, feature_cache=False))
    assert cached.summary["trunk_cache"]["splits"] == ["source_test", "source_train", "source_val", "target_test",
                                                        "target_unlabelled", "target_val"]
    for a, b in zip(cached.history, plain.history):
        assert a["target.test.accuracy"] == b["target.test.accuracy"]
        assert a["validators.reverse"] == pytest.approx(b["validators.reverse"], abs=1e-6)


def test_with_augmentation_only_evaluation_is_cached():
    result = fit(clipart(data=DataConfig(target="clipart", per_class=12, image_size=64, augment="light"),
                         schedule=ScheduleConfig(epochs=1)))
    record = result.summary["trunk_cache"]
    assert not record["training"] and "target_labelled" not in record["splits"]


def test_updating_batchnorm_statistics_turns_the_cache_off_and_says_why():
    result = fit(clipart(model=ModelConfig(freeze="last:1", bn_policy="update"), schedule=ScheduleConfig(epochs=1)))
    assert "bn_policy update" in result.summary["trunk_cache"]["off"]


def test_gradual_unfreezing_rebuilds_the_trunk_as_stages_unfreeze():
    config = clipart(model=ModelConfig(freeze="last:2"), strategy=StrategyConfig("gradual_unfreeze", {"every": 1}))
    cached, lines, _ = counted(config)
    plain = fit(dataclasses.replace(config, feature_cache=False))
    built = [line for line in lines if line.startswith("frozen trunk cached")]
    assert len(built) == 3  # all stages frozen, then stage7 trains, then stage6 too
    assert "stage6" in built[1] and "stage6" not in built[2]
    assert [h["target.test.accuracy"] for h in cached.history] == [h["target.test.accuracy"] for h in plain.history]
