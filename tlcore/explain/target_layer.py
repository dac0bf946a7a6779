"""Which layer Grad-CAM reads: resolved from a backbone's stages, for any family.

Grad-CAM weighs a layer's feature maps by the gradient of a class score; the maps are
only as sharp as that layer is spatial, and only as meaningful as it is deep. The layer
wanted is therefore the *last spatial output of the last feature stage*: for ResNet the
whole ``layer4``, for EfficientNet ``bn2`` (conv_head + BatchNorm + activation: the 1280
channels the pooled features are averaged from, rather than the last block's 320, which
the classifier never sees directly), for ConvNeXt ``features.7``, for the DANN CNN
``conv2``. Names differ per family, so the layer is found, not listed: one probe forward
at the input size the maps are drawn at records every module's output, and the last one
whose parameters all belong to the last feature stage (``stages()``, the head excluded)
and whose output is a map of at least 2 x 2 cells is taken. The 2 x 2 floor leaves out
what has no space left in it: squeeze-excitation gates and everything after global
pooling (ConvNeXt's LayerNorm2d on 1 x 1 maps, MobileNet's pre-logits Linear). When the
last stage is all 1 x 1 at a small input, the stage before it is searched the same way
(EfficientNet-Lite0 at 32 px: ``blocks.5.0.bn1``, the expansion before the last stride):
a less class-specific layer, but a map with a place in it.

Vision transformers have no 4-D maps: their tokens are (N, 1 + H*W, D). There the layer
is the input of the last attention (torchvision's ``ln_1``, timm's ``norm1``): after the
last attention only the class token reaches the head, so the gradient on every later
token layer is zero away from it. Its tokens are reshaped into an H x W grid.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..backbones import HEAD


class NoSpatialLayer(ValueError):
    """The model has no layer whose output Grad-CAM can turn into a heat map."""


@dataclass(frozen=True)
class TargetLayer:
    name: str  # dotted path inside the model, e.g. "body.bn2"
    module: nn.Module
    reshape: Callable[[torch.Tensor], torch.Tensor] | None  # tokens -> (N, D, H, W), for ViTs
    grid: tuple[int, int]  # the map's own resolution at the probed input size


MIN_CELLS = 2  # a map needs at least 2 x 2 cells to say where


def resolve_target_layer(model: nn.Module, size: int) -> TargetLayer:
    """The Grad-CAM layer of ``model`` (a ``Backbone``) for square inputs of ``size`` px."""
    stages = getattr(model, "stages", None)
    if not callable(stages):
        raise NoSpatialLayer(f"{type(model).__name__} has no stages(): Grad-CAM needs a TL Studio backbone")
    feature_stages = [s for s in stages() if s.name != HEAD and s.parameters]
    model_name = getattr(getattr(model, "info", None), "name", type(model).__name__)
    try:
        order = _probe(model, size)
    except RuntimeError as exc:  # e.g. a kernel larger than the map: the model cannot run at this size
        raise NoSpatialLayer(f"{model_name} cannot run on {size}-px images: {exc}") from None
    for stage in reversed(feature_stages):  # the deepest stage that still has a map
        owned = {id(p) for _, p in stage.parameters}
        spatial = [(name, module, out) for name, module, out in order
                   if out.ndim == 4 and min(out.shape[2:]) >= MIN_CELLS and _all_params_in(module, owned)]
        if spatial:
            name, module, out = spatial[-1]
            return TargetLayer(name, module, None, (int(out.shape[2]), int(out.shape[3])))
        tokens = _token_layer(order, owned)
        if tokens is not None:
            return tokens
    raise NoSpatialLayer(f"{model_name} has no feature map of at least {MIN_CELLS} x {MIN_CELLS} cells at "
                         f"{size} px, so there is nothing to place a heat map on; use a larger image size")


def _probe(model: nn.Module, size: int) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """Every module's output for one blank image, in the order the modules finish
    (a container after its children, so a whole stage comes after its last block)."""
    order: list[tuple[str, nn.Module, torch.Tensor]] = []

    def hook(name):
        def record(module, inputs, output):
            if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
                output = output[0]  # attention modules return (values, weights)
            if isinstance(output, torch.Tensor):
                order.append((name, module, output.detach()))
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n]
    param = next(model.parameters())
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()
            model(torch.zeros(1, 3, size, size, device=param.device, dtype=param.dtype))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return order


def _all_params_in(module: nn.Module, owned: set[int]) -> bool:
    params = [id(p) for p in module.parameters()]
    return bool(params) and all(p in owned for p in params)


def _token_layer(order, owned: set[int]) -> TargetLayer | None:
    """The input of the last attention module, for token models (see the module doc)."""
    attention = [i for i, (_, m, _) in enumerate(order)
                 if isinstance(m, nn.MultiheadAttention) or type(m).__name__.endswith("Attention")]
    if not attention:
        return None
    last = order[attention[-1]][1]
    inner = {id(m) for m in last.modules()}
    for name, module, out in reversed(order[:attention[-1]]):
        if id(module) in inner or out.ndim != 3 or not _all_params_in(module, owned):
            continue
        side = math.isqrt(out.shape[1])
        prefix = out.shape[1] - side * side  # class token (and register tokens) before the patches
        if side < MIN_CELLS or prefix > 8:
            return None
        return TargetLayer(name, module, _tokens_to_grid(prefix, side), (side, side))
    return None


def _tokens_to_grid(prefix: int, side: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def reshape(tokens: torch.Tensor) -> torch.Tensor:
        grid = tokens[:, prefix:, :].reshape(tokens.shape[0], side, side, tokens.shape[2])
        return grid.permute(0, 3, 1, 2)  # (N, D, H, W): the layout Grad-CAM averages over
    return reshape
