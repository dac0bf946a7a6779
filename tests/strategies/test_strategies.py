"""Every registered strategy: one real step on real digits, and a tiny end-to-end run."""
import math

import pytest
import torch

from tlcore import fit
from tlcore.backbones import create_backbone
from tlcore.config import DataConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig, StrategyConfig
from tlcore.data import load_domain
from tlcore.data.transforms import to_tensor
from tlcore.registry import UnknownNameError
from tlcore.strategies import create_strategy, list_strategies, strategy_info

# The methods the README and the Learn page speak of; any other registered one is tested too.
DOCUMENTED = {"adabn", "cdan", "coral", "dann", "finetune", "gradual_unfreeze", "instance_weighting", "joint", "lp_ft",
              "mcc", "mme", "mmd", "self_training", "source_only"}
# Step values beyond a strategy's declared metrics (StrategyInfo.metrics, checked for all).
EXPECTED_PARTS = {"dann": {"cls_loss"}, "joint": {"src_cls_loss"}}


def tiny_config(strategy: str, **overrides) -> RunConfig:
    info = strategy_info(strategy)
    return RunConfig(
        data=DataConfig(target="syndigits", source="mnist" if info.needs_source else None, per_class=12,
                        image_size=28),
        model=ModelConfig(backbone="dann_digits_cnn", weights="none", freeze="none"),
        strategy=StrategyConfig(strategy), optim=OptimConfig(name="sgd", lr=0.01),
        schedule=ScheduleConfig(epochs=2), batch_size=16, seed=0, **overrides)


def test_registry_holds_every_method_with_metadata():
    assert DOCUMENTED <= set(list_strategies())
    for name in list_strategies():
        info = strategy_info(name)
        assert info.description and info.family and set(info.help) <= set(info.defaults)
        assert all(isinstance(label, str) and label for label in info.metrics.values())
    with pytest.raises(UnknownNameError, match="valid choices: adabn, cdan, coral, dann"):
        strategy_info("danm")


def real_batch(n=8):
    src, tgt = load_domain("mnist", per_class=2), load_domain("syndigits", per_class=2)
    x_s = to_tensor(src.images[:n], 28, (0.5,) * 3, (0.5,) * 3)
    x_t = to_tensor(tgt.images[:n], 28, (0.5,) * 3, (0.5,) * 3)
    return {"src_x": x_s, "src_y": torch.as_tensor(src.labels[:n]), "src_i": torch.arange(n),
            "tgt_x": x_t, "tgt_y": torch.as_tensor(tgt.labels[:n]), "tgt_u": x_t,
            "tgt_u_strong": x_t.flip(-1)}  # self-training's second view


class FakeContext:
    """What instance weighting reads in setup(): features of the two domains (real images)."""

    def __init__(self, strategy, batch):
        self.config = RunConfig()
        self._f = {"source_train": strategy.backbone.forward_features(batch["src_x"]).detach().numpy(),
                   "target_unlabelled": strategy.backbone.forward_features(batch["tgt_u"]).detach().numpy()}

    def initial_features(self, which):
        return self._f[which], None

    def source_ids(self, split):
        return [f"mnist/{i}" for i in range(len(self._f["source_train"]))]


@pytest.mark.parametrize("name", list_strategies())
def test_one_real_training_step(name):
    torch.manual_seed(0)
    backbone = create_backbone("dann_digits_cnn", "none", num_classes=10)
    strategy = create_strategy(name, backbone, 10, freeze="none")
    batch = real_batch()
    strategy.setup(FakeContext(strategy, batch))
    strategy.on_epoch_start(3, 4)
    strategy.train()
    out = strategy.training_step(batch, progress=0.5)
    assert out["loss"].requires_grad and math.isfinite(out["loss"].item())
    assert set(strategy_info(name).metrics) | EXPECTED_PARTS.get(name, set()) <= set(out)
    out["loss"].backward()
    grads = [p.grad for p in strategy.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", list_strategies())
def test_tiny_end_to_end_run(name, tmp_path):
    result = fit(tiny_config(name), out_dir=tmp_path)
    s = result.summary
    assert result.status == "finished" and s["epochs_run"] == 2
    assert 0 <= s["target.test.accuracy"] <= 1 and "before.target.test.accuracy" in s
    assert (tmp_path / "summary.json").exists() and (tmp_path / "checkpoints" / "best.safetensors").exists()
    if strategy_info(name).needs_source:
        assert "source.test.accuracy" in s
    if name == "instance_weighting":
        import json
        w = json.loads((tmp_path / "instance_weights.json").read_text())
        assert len(w["ids"]) == len(w["weights"]) > 0 and abs(sum(w["weights"]) / len(w["weights"]) - 1) < 1e-3


@pytest.mark.parametrize("bn_mode", ["shared", "separate"])
def test_dann_batchnorm_statistics_shared_or_separate(bn_mode):
    """With separate statistics each domain's batch is normalised on its own."""
    torch.manual_seed(0)
    backbone = create_backbone("efficientnet_lite0", "imagenet", num_classes=10)
    strategy = create_strategy("dann", backbone, 10, {"bn_mode": bn_mode})
    strategy.setup(None)
    strategy.train()
    batch = {k: v for k, v in real_batch().items() if k not in ("tgt_x", "tgt_y")}  # unsupervised
    calls = []
    backbone.body.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
    out = strategy.training_step(batch, progress=0.5)
    assert math.isfinite(out["loss"].item())
    assert calls == ([16] if bn_mode == "shared" else [8, 8])


def test_unknown_strategy_parameter_is_refused():
    backbone = create_backbone("dann_digits_cnn", "none", num_classes=10)
    with pytest.raises(ValueError, match="unknown parameters for strategy 'dann': lamda; valid: bn_mode"):
        create_strategy("dann", backbone, 10, {"lamda": 1})


def test_gradual_unfreeze_changes_the_freeze_map_live(tmp_path):
    events = []
    fit(tiny_config("gradual_unfreeze", ).replace(schedule=ScheduleConfig(epochs=3)), out_dir=tmp_path,
          listeners=[events.append])
    messages = [e.message for e in events if type(e).__name__ == "EpochStarted"]
    assert messages == ["training stages: head only", "training stages: conv2", "training stages: conv1, conv2"]


def test_lp_ft_runs_its_two_phases(tmp_path):
    events = []
    fit(tiny_config("lp_ft"), out_dir=tmp_path, listeners=[events.append])
    messages = [e.message for e in events if type(e).__name__ == "EpochStarted"]
    assert messages[0].startswith("phase 1") and messages[1].startswith("phase 2")
    lrs = [e.values["lr"] for e in events if type(e).__name__ == "StepEnded"]
    assert lrs[-1] < 0.2 * lrs[0]  # the fine-tuning phase runs at the lower LR


def test_adabn_changes_target_predictions_only_through_bn_statistics(tmp_path):
    result = fit(tiny_config("adabn").replace(
        model=ModelConfig(backbone="efficientnet_lite0", weights="imagenet", freeze="none"),
        data=DataConfig(target="mnist-m", source="mnist", per_class=8, image_size=32)), out_dir=tmp_path)
    strategy = result.strategy
    adapted = strategy.eval_model("target")
    assert adapted is not strategy.backbone
    bn_src = [m.running_mean for m in strategy.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    bn_tgt = [m.running_mean for m in adapted.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert not torch.allclose(bn_src[0], bn_tgt[0])
    w_src = dict(strategy.backbone.named_parameters())
    assert all(torch.equal(w_src[n], p) for n, p in adapted.named_parameters())


def test_semi_supervised_dann_uses_the_few_target_labels(tmp_path):
    events = []
    cfg = tiny_config("dann").replace(data=DataConfig(target="syndigits", source="mnist", per_class=12,
                                                      image_size=28, target_labels_per_class=2))
    fit(cfg, out_dir=tmp_path, listeners=[events.append])
    steps = [e for e in events if type(e).__name__ == "StepEnded"]
    assert "tgt_cls_loss" in steps[0].values
    unsup = []
    fit(tiny_config("dann"), out_dir=tmp_path / "u", listeners=[unsup.append])
    assert "tgt_cls_loss" not in [e for e in unsup if type(e).__name__ == "StepEnded"][0].values
