"""torchvision models, with ImageNet weights from the local torch hub cache."""
from __future__ import annotations

from functools import partial

import torchvision.models as tvm
from torch import nn

from .base import stage_map_from_prefixes
from .registry import BackboneSpec, allow_download, register_backbone
from .weights import WeightsUnavailable, hub_checkpoint, load_state_dict_file


def _features(*idx: int) -> tuple[str, ...]:
    return tuple(f"features.{i}" for i in idx)


def _resnet_stages():
    return [("stem", ("conv1", "bn1")), ("stage1", ("layer1",)), ("stage2", ("layer2",)),
            ("stage3", ("layer3",)), ("stage4", ("layer4",))]


# name: (builder, weights enum member, stage spec over the body, head path, description)
MODELS = {
    "resnet18": (tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1, _resnet_stages(), "fc",
                 "ResNet-18, 11.7M params: a fast, CPU-friendly classic"),
    "resnet50": (tvm.resnet50, tvm.ResNet50_Weights.IMAGENET1K_V2, _resnet_stages(), "fc",
                 "ResNet-50, 25.6M params: the standard transfer-learning baseline"),
    "mobilenet_v3_small": (tvm.mobilenet_v3_small, tvm.MobileNet_V3_Small_Weights.IMAGENET1K_V1, [
        ("stem", _features(0)), ("stage1", _features(1)), ("stage2", _features(2, 3)),
        ("stage3", _features(4, 5, 6, 7, 8)), ("stage4", _features(9, 10, 11, 12) + ("classifier.0",))],
        "classifier.3", "MobileNetV3-Small, 2.5M params: the smallest"),
    "mobilenet_v3_large": (tvm.mobilenet_v3_large, tvm.MobileNet_V3_Large_Weights.IMAGENET1K_V2, [
        ("stem", _features(0)), ("stage1", _features(1, 2, 3)), ("stage2", _features(4, 5, 6)),
        ("stage3", _features(7, 8, 9, 10, 11, 12)), ("stage4", _features(13, 14, 15, 16) + ("classifier.0",))],
        "classifier.3", "MobileNetV3-Large, 5.5M params"),
    "efficientnet_b0": (tvm.efficientnet_b0, tvm.EfficientNet_B0_Weights.IMAGENET1K_V1,
                        [("stem", _features(0))] + [(f"stage{i}", _features(i)) for i in range(1, 7)]
                        + [("stage7", _features(7, 8))], "classifier.1", "EfficientNet-B0, 5.3M params"),
    "convnext_tiny": (tvm.convnext_tiny, tvm.ConvNeXt_Tiny_Weights.IMAGENET1K_V1, [
        ("stem", _features(0)), ("stage1", _features(1)), ("stage2", _features(2, 3)),
        ("stage3", _features(4, 5)), ("stage4", _features(6, 7) + ("classifier.0",))],
        "classifier.2", "ConvNeXt-Tiny, 28.6M params: a modern CNN, uses the CPU well"),
    "vit_b_16": (tvm.vit_b_16, tvm.ViT_B_16_Weights.IMAGENET1K_V1, [
        ("stem", ("class_token", "conv_proj", "encoder.pos_embedding"))]
        + [(f"stage{s + 1}", tuple(f"encoder.layers.encoder_layer_{i}" for i in range(3 * s, 3 * s + 3)))
           for s in range(4)] + [("stage4", ("encoder.ln",))],
        "heads.head", "ViT-B/16, 86.6M params: a vision transformer (slow on a CPU; 224 px only)"),
}


def _register(name: str, builder, weights_enum, spec, head_path: str, description: str) -> None:
    def load_imagenet() -> dict:
        local = hub_checkpoint(weights_enum.url)  # looked up per call: TORCH_HOME may change
        if local.is_file():
            return load_state_dict_file(local)
        if allow_download():
            return weights_enum.get_state_dict(progress=True)
        raise WeightsUnavailable(
            f"ImageNet weights for {name} are not on this machine: place {local.name} "
            f"(from {weights_enum.url}) in {local.parent}, or set TLSTUDIO_ALLOW_DOWNLOAD=1 "
            "to let torchvision download it")

    def probe() -> tuple[bool, str]:
        local = hub_checkpoint(weights_enum.url)
        found = local.is_file()
        return found, (f"torch hub cache ({local})" if found else f"place {local.name} in {local.parent}")

    def stages(body: nn.Module):
        # The last listed stage also takes anything left over (e.g. ViT's final LayerNorm).
        merged: dict[str, tuple[str, ...]] = {}
        for stage, prefixes in spec:
            merged[stage] = merged.get(stage, ()) + prefixes
        return stage_map_from_prefixes(body, list(merged.items())), list(merged)

    register_backbone(BackboneSpec(
        name=name, family="torchvision", description=description, build=partial(builder, weights=None),
        head_path=head_path, stages=stages, load_imagenet=load_imagenet, imagenet_probe=probe,
        input_size=224, licence="BSD-3-Clause (torchvision); weights per torchvision's model card"))


for _name, _args in MODELS.items():
    _register(_name, *_args)
