"""Device and precision choice; the CUDA tests run only where a GPU is (marked gpu)."""
import pytest
import torch

from tlcore import fit
from tlcore.config import DataConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig, StrategyConfig
from tlcore.devices import resolve_device, resolve_precision

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_auto_picks_cuda_then_mps_then_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        expected = "mps"
    assert resolve_device("auto") == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_asking_for_a_missing_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU is visible"):
        resolve_device("cuda")


def test_precision_choices():
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(ValueError, match="fp16 autocast is not supported on the CPU"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ValueError, match="valid: auto, fp32, bf16, fp16"):
        resolve_precision("int4", "cpu")


@pytest.mark.gpu
@needs_cuda
def test_short_dann_run_on_cuda_with_autocast():
    # On the CPU this configuration reached source 0.93 / target 0.46 test accuracy.
    cfg = RunConfig(data=DataConfig(target="mnist-m", source="mnist", per_class=300, image_size=28),
                    model=ModelConfig(backbone="dann_digits_cnn", weights="none", freeze="none"),
                    strategy=StrategyConfig("dann"), optim=OptimConfig(name="adamw", lr=2e-3),
                    schedule=ScheduleConfig(epochs=5), batch_size=64, device="cuda")
    events = []
    r = fit(cfg, listeners=[events.append])
    assert r.status == "finished" and r.summary["device"] == "cuda"
    assert r.summary["precision"] in ("bf16", "fp16")  # autocast chosen automatically
    assert r.summary["source.test.accuracy"] > 0.8 and r.summary["target.test.accuracy"] > 0.25
    steps = [e.values for e in events if type(e).__name__ == "StepEnded"]
    assert all(k in steps[-1] for k in ("domain_loss", "domain_acc", "lambda"))


@pytest.mark.gpu
@needs_cuda
def test_channels_last_on_cuda_for_the_pretrained_default():
    cfg = RunConfig(data=DataConfig(target="syndigits", per_class=20, image_size=64),
                    model=ModelConfig(freeze="last:2"), schedule=ScheduleConfig(epochs=1), batch_size=32,
                    device="cuda")
    r = fit(cfg)
    assert r.status == "finished"
    conv = r.strategy.backbone.body.conv_stem.weight
    assert conv.is_cuda and conv.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.gpu
@needs_cuda
def test_feature_cache_on_cuda():
    cfg = RunConfig(data=DataConfig(target="syndigits", per_class=30, image_size=96),
                    model=ModelConfig(freeze="all"), schedule=ScheduleConfig(epochs=5), batch_size=32,
                    device="cuda")
    r = fit(cfg)
    assert r.summary["feature_cache"] and r.summary["device"] == "cuda"
    assert r.summary["target.test.accuracy"] > 0.3


def test_memory_format_follows_the_machine(monkeypatch):
    from tlcore import devices
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2", "avx512f", "amx_bf16"})
    assert devices.choose_memory_format("auto", "cpu")[0] == "channels_last"
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2", "fma"})  # an AVX2-only CPU: NHWC measured 0.95x
    assert devices.choose_memory_format("auto", "cpu") == ("contiguous", "CPU without AVX-512: NHWC measured 0.95x")
    assert devices.choose_memory_format("auto", "cuda")[0] == "channels_last"
    assert devices.choose_memory_format("contiguous", "cuda") == ("contiguous", "asked for")
    with pytest.raises(ValueError, match="valid: auto, channels_last, contiguous"):
        devices.choose_memory_format("nhwc", "cpu")


def test_channels_last_trains_the_same_model_up_to_rounding(tmp_path):
    """Both layouts on the real pretrained default, last two stages trained (so convolutions
    train): the same test accuracy within one image, and the choice recorded with the run."""
    def run(layout, out):
        return fit(RunConfig(data=DataConfig(target="syndigits", per_class=12, image_size=48),
                             model=ModelConfig(freeze="last:2"), schedule=ScheduleConfig(epochs=2),
                             batch_size=16, device="cpu", memory_format=layout), out_dir=out)
    nhwc, nchw = run("channels_last", tmp_path / "a"), run("contiguous", tmp_path / "b")
    assert nhwc.summary["memory_format"] == "channels_last" and nchw.summary["memory_format"] == "contiguous"
    n_test = sum(sum(row) for row in nhwc.summary["target.test.confusion_matrix"])
    assert abs(nhwc.summary["target.test.accuracy"] - nchw.summary["target.test.accuracy"]) <= 1 / n_test + 1e-9
    import json
    environment = json.loads((tmp_path / "a" / "config.json").read_text())["environment"]
    assert environment["memory_format"] == "channels_last" and "cpu_avx512" in environment
