"""The one model interface every backbone family is wrapped into.

A ``Backbone`` is a feature extractor (``body``, which returns pooled (N, D) features)
plus a replaceable classification ``head``, with its parameters split into ordered,
named stages (stem ... last stage, head) for the freeze map and discriminative LRs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

HEAD = "head"


@dataclass(frozen=True)
class BackboneInfo:
    name: str
    family: str
    description: str
    params: int  # total, with the ImageNet head where there is one
    feature_dim: int
    input_size: int  # default square input side
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    stage_names: tuple[str, ...]  # ordered, the head last
    weight_sources: tuple[str, ...]  # what the family can load: imagenet, file, none
    imagenet_available: bool  # ImageNet weights are on this machine right now
    imagenet_hint: str  # where they come from, or which file to place where
    licence: str = ""

    def to_dict(self) -> dict:
        from dataclasses import asdict
        return asdict(self)


@dataclass(frozen=True)
class Stage:
    name: str
    parameters: tuple[tuple[str, nn.Parameter], ...]
    batchnorms: tuple[_BatchNorm, ...]

    def num_params(self) -> int:
        return sum(p.numel() for _, p in self.parameters)


def linear_head(feature_dim: int, num_classes: int) -> nn.Module:
    return nn.Linear(feature_dim, num_classes)


class Backbone(nn.Module):
    """``forward_features(x) -> (N, D)``, ``forward_head``, ``reset_classifier``, ``stages()``."""

    def __init__(self, body: nn.Module, head: nn.Module, feature_dim: int, stage_of: dict[str, str],
                 stage_names: list[str], head_factory: Callable[[int, int], nn.Module] = linear_head,
                 info: BackboneInfo | None = None):
        super().__init__()
        self.body = body
        self.head = head
        self.feature_dim = feature_dim
        self.info = info
        self._head_factory = head_factory
        self._stage_of = dict(stage_of)  # body parameter name -> stage name
        self._stage_names = [s for s in stage_names if s != HEAD] + [HEAD]
        missing = [n for n, _ in body.named_parameters() if n not in self._stage_of]
        if missing:
            raise ValueError(f"parameters without a stage: {missing[:5]}")
        # Filled by tlcore.freezing; kept here because train() must honour them.
        self.frozen_stages: frozenset[str] = frozenset()
        self.bn_policy = "freeze"  # frozen stages keep their BatchNorm statistics

    @property
    def num_classes(self) -> int:
        last = [m for m in self.head.modules() if isinstance(m, nn.Linear)][-1]
        return last.out_features

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.head = self._head_factory(self.feature_dim, num_classes)

    def stage_names(self) -> list[str]:
        return list(self._stage_names)

    def stages(self) -> list[Stage]:
        params: dict[str, list] = {s: [] for s in self._stage_names}
        for n, p in self.body.named_parameters():
            params[self._stage_of[n]].append((f"body.{n}", p))
        params[HEAD] = [(f"head.{n}", p) for n, p in self.head.named_parameters()]
        bns: dict[str, list] = {s: [] for s in self._stage_names}
        for n, m in self.body.named_modules():
            if isinstance(m, _BatchNorm) and m.weight is not None and f"{n}.weight" in self._stage_of:
                bns[self._stage_of[f"{n}.weight"]].append(m)
        bns[HEAD] = [m for m in self.head.modules() if isinstance(m, _BatchNorm)]
        return [Stage(s, tuple(params[s]), tuple(bns[s])) for s in self._stage_names]

    def train(self, mode: bool = True) -> Backbone:
        super().train(mode)
        # The Keras pitfall: a "frozen" stage whose BatchNorm layers stay in train mode
        # still rewrites its running statistics on every batch. Keep them in eval.
        # "fixed" keeps every BatchNorm's statistics, also in the stages that train.
        if mode and (self.bn_policy == "fixed" or (self.bn_policy == "freeze" and self.frozen_stages)):
            for stage in self.stages():
                if self.bn_policy == "fixed" or stage.name in self.frozen_stages:
                    for bn in stage.batchnorms:
                        bn.eval()
        return self


def stage_map_from_prefixes(module: nn.Module, spec: list[tuple[str, tuple[str, ...]]]) -> dict[str, str]:
    """Assign each parameter to the first stage with a matching module prefix."""
    out = {}
    for name, _ in module.named_parameters():
        for stage, prefixes in spec:
            if any(name == p or name.startswith(p + ".") for p in prefixes):
                out[name] = stage
                break
    return out
