"""Backbone registry: ``register_backbone`` / ``create_backbone`` / ``list_backbones``.

A family registers a ``BackboneSpec`` (how to build the model with random weights, where
its ImageNet weights come from, how its parameters split into stages). Any timm model
can also be used by name as ``timm:<model_name>`` without registering it.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..registry import Registry, UnknownNameError
from .base import HEAD, Backbone, BackboneInfo, linear_head
from .weights import WeightsError, WeightsUnavailable, load_state_dict_file

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHT_CHOICES = "imagenet | none | file:PATH"


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    family: str
    description: str
    build: Callable[[], nn.Module]  # the whole model, random init, with its original head
    head_path: str  # dotted path of the classifier inside the built model
    stages: Callable[[nn.Module], tuple[dict[str, str], list[str]]]  # body -> (param -> stage, order)
    load_imagenet: Callable[[], dict] | None = None  # state dict for build(); raises WeightsUnavailable
    imagenet_probe: Callable[[], tuple[bool, str]] = lambda: (False, "no ImageNet weights for this model")
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    licence: str = ""
    head_factory: Callable[[int, int], nn.Module] = field(default=linear_head)


_BACKBONES: Registry[BackboneSpec] = Registry("backbone")
# A family that offers models by a prefixed name ("timm:resnet50") without registering each
# one: prefix -> (spec for the name after the prefix, what to tell a user about it).
_PREFIXES: dict[str, tuple[Callable[[str], BackboneSpec], str]] = {}


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    _BACKBONES.register(spec.name, spec, spec.build)
    return spec


def register_backbone_prefix(prefix: str, resolve: Callable[[str], BackboneSpec], hint: str) -> None:
    """Names that start with ``prefix`` are resolved by ``resolve(rest of the name)``."""
    if prefix in _PREFIXES:
        raise ValueError(f"backbone prefix {prefix!r} is registered twice")
    _PREFIXES[prefix] = (resolve, hint)


def list_backbones(pattern: str = "*") -> list[str]:
    return _BACKBONES.names(pattern)


def get_spec(name: str) -> BackboneSpec:
    for prefix, (resolve, _) in _PREFIXES.items():
        if name.startswith(prefix):
            return resolve(name[len(prefix):])
    try:
        return _BACKBONES.get(name).info
    except UnknownNameError as exc:
        hints = "".join(f"; or {hint}" for _, hint in _PREFIXES.values())
        raise UnknownNameError(f"{exc}{hints}") from None


def allow_download() -> bool:
    """Hub downloads happen only when the user opts in (the app must work offline)."""
    return os.environ.get("TLSTUDIO_ALLOW_DOWNLOAD", "") == "1"


@functools.cache
def _static_facts(name: str) -> tuple[int, int, tuple[str, ...]]:
    """(params, feature_dim, stage names), from a model built on the meta device (no memory)."""
    spec = get_spec(name)
    with torch.device("meta"):
        model = spec.build()
    params = sum(p.numel() for p in model.parameters())
    head = model.get_submodule(spec.head_path)
    model.set_submodule(spec.head_path, nn.Identity())
    _, order = spec.stages(model)
    return params, _feature_dim(head), tuple(s for s in order if s != HEAD) + (HEAD,)


def backbone_info(name: str) -> BackboneInfo:
    spec = get_spec(name)
    params, feature_dim, stage_names = _static_facts(name)
    available, hint = spec.imagenet_probe()
    sources = ("imagenet", "file", "none") if spec.load_imagenet else ("file", "none")
    return BackboneInfo(name=name, family=spec.family, description=spec.description, params=params,
                        feature_dim=feature_dim, input_size=spec.input_size, mean=spec.mean, std=spec.std,
                        stage_names=stage_names, weight_sources=sources,
                        imagenet_available=bool(spec.load_imagenet) and available, imagenet_hint=hint,
                        licence=spec.licence)


def _feature_dim(head: nn.Module) -> int:
    return next(m for m in head.modules() if isinstance(m, nn.Linear)).in_features


def create_backbone(name: str, weights: str = "imagenet", num_classes: int | None = None) -> Backbone:
    """Build backbone ``name`` with ``weights`` (imagenet, none, file:PATH).

    ``num_classes=None`` keeps the model's own head (the 1000 ImageNet classes for a
    pretrained model); otherwise a fresh head with that many outputs is attached.
    """
    spec = get_spec(name)
    if weights not in ("imagenet", "none") and not weights.startswith("file:"):
        raise WeightsError(f"unknown weight source {weights!r}; valid: {WEIGHT_CHOICES}")
    model = spec.build()
    if weights == "imagenet":
        if spec.load_imagenet is None:
            raise WeightsUnavailable(f"{name} has no ImageNet weights; use weights 'none' or 'file:PATH'")
        model.load_state_dict(spec.load_imagenet(), strict=True)
    head = model.get_submodule(spec.head_path)
    model.set_submodule(spec.head_path, nn.Identity())
    stage_of, order = spec.stages(model)
    backbone = Backbone(model, head, _feature_dim(head), stage_of, order, spec.head_factory,
                        info=backbone_info(name))
    if weights.startswith("file:"):
        load_weights_into(backbone, load_state_dict_file(weights[len("file:"):]), spec.head_path)
    if num_classes is not None and num_classes != backbone.num_classes:
        backbone.reset_classifier(num_classes)
    return backbone


def load_weights_into(backbone: Backbone, state: dict, head_path: str) -> None:
    """Load a state dict saved from a Backbone (body.*/head.*) or from the original model.

    A head whose shape differs (another number of classes) is left fresh: the data
    decides the classes. Any other difference is an error that names the layers.
    """
    if not all(k.startswith(("body.", "head.")) for k in state):
        prefix = head_path + "."
        state = {("head." + k[len(prefix):]) if k.startswith(prefix) else ("body." + k): v
                 for k, v in state.items()}
    own = backbone.state_dict()
    head_keys = [k for k in state if k.startswith("head.")]
    if any(k not in own or own[k].shape != state[k].shape for k in head_keys):
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
    wrong = [f"{k} (file {tuple(v.shape)}, model {tuple(own[k].shape)})"
             for k, v in state.items() if k in own and own[k].shape != v.shape]
    missing = [k for k in own if k.startswith("body.") and k not in state]
    unexpected = [k for k in state if k not in own]
    problems = []
    if wrong:
        problems.append(f"{len(wrong)} layers have other shapes: {'; '.join(wrong[:5])}")
    if missing:
        problems.append(f"{len(missing)} layers are missing from the file, e.g. {', '.join(missing[:5])}")
    if unexpected:
        model = backbone.info.name if backbone.info else "the model"
        problems.append(f"{len(unexpected)} layers in the file are not in {model}, "
                        f"e.g. {', '.join(unexpected[:5])}")
    if problems:
        raise WeightsError("the weights file does not fit this backbone: " + "; ".join(problems))
    backbone.load_state_dict(state, strict=False)
