"""Every registered backbone, random init, tiny input: the same interface everywhere."""
import pytest
import torch

from tlcore.backbones import (DEFAULT_BACKBONE, HEAD, WeightsError, WeightsUnavailable, backbone_info, create_backbone,
                              list_backbones)
from tlcore.registry import UnknownNameError

# ViT-B/16 (torchvision) only accepts 224 px; the rest run at a small size to stay fast.
SIZES = {"vit_b_16": 224, "dann_digits_cnn": 28}
REQUIRED = {"efficientnet_lite0", "efficientnet_lite2", "resnet18", "resnet50", "mobilenet_v3_small",
            "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny", "vit_b_16", "dann_digits_cnn"}


def test_required_backbones_are_registered():
    assert REQUIRED <= set(list_backbones())
    assert list_backbones("resnet*") == ["resnet18", "resnet50"]


@pytest.mark.parametrize("name", list_backbones() + ["timm:resnet10t"])  # a new family's models too
def test_interface(name):
    torch.manual_seed(0)
    info = backbone_info(name)
    model = create_backbone(name, "none", num_classes=3).eval()
    size = SIZES.get(name, 64)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        feats = model.forward_features(x)
        logits = model(x)
    assert feats.shape == (2, info.feature_dim) and logits.shape == (2, 3)
    assert torch.allclose(model.forward_head(feats), logits)
    # Stages: ordered, head last, and every parameter in exactly one stage.
    stages = model.stages()
    assert [s.name for s in stages] == list(info.stage_names) and stages[-1].name == HEAD
    ids = [id(p) for s in stages for _, p in s.parameters]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert all(s.parameters for s in stages), "empty stage"
    model.reset_classifier(5)
    assert model(x).shape == (2, 5)
    assert info.params > 0 and len(info.mean) == len(info.std) == 3 and info.input_size > 0


def test_default_is_pretrained_and_available():
    info = backbone_info(DEFAULT_BACKBONE)
    assert info.imagenet_available and "imagenet" in info.weight_sources and info.params == 4_652_008


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError, match="valid choices: .*efficientnet_lite0"):
        create_backbone("resnet19")
    with pytest.raises(UnknownNameError, match="unknown timm model"):
        create_backbone("timm:not_a_model")
    with pytest.raises(WeightsError, match="imagenet \\| none \\| file:PATH"):
        create_backbone("resnet18", "pretrained")


def test_missing_imagenet_weights_name_the_file_to_place(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache
    monkeypatch.delenv("TLSTUDIO_ALLOW_DOWNLOAD", raising=False)
    assert not backbone_info("resnet18").imagenet_available
    with pytest.raises(WeightsUnavailable, match="place resnet18-f37072fd.pth .* in " + str(tmp_path)):
        create_backbone("resnet18", "imagenet")


def test_dann_cnn_has_no_imagenet_weights():
    assert "imagenet" not in backbone_info("dann_digits_cnn").weight_sources
    with pytest.raises(WeightsUnavailable, match="no ImageNet weights"):
        create_backbone("dann_digits_cnn", "imagenet")


def test_torchvision_weights_in_the_hub_cache_are_used(monkeypatch, tmp_path):
    # Stand-in for a real download: a resnet18 state dict saved under torchvision's file name.
    import torchvision
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(1)
    reference = torchvision.models.resnet18()
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(reference.state_dict(), tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth")
    assert backbone_info("resnet18").imagenet_available
    model = create_backbone("resnet18", "imagenet").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), reference.eval()(x), atol=1e-5)
