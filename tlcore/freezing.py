"""Which stages train, with which learning rate: the freeze map.

Freezing works on a Backbone's ordered stages (stem, stage1..n, head). A frozen stage's
parameters get ``requires_grad=False`` (so autograd records nothing for leading frozen
stages and the backward pass gets cheaper) and, under the default BatchNorm policy, its
BatchNorm layers stay in eval mode so their running statistics do not move.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .backbones.base import HEAD, Backbone
from .config import BN_POLICIES

# BatchNorm running statistics: "freeze" - frozen stages keep theirs (the default);
# "update" - every stage keeps updating (AdaBN-like); "fixed" - no stage updates them, so the
# features do not jump when a stage is unfrozen mid-run (LP-FT, gradual unfreezing).
FREEZE_SPEC_HELP = "all | none | last:K | pattern:REGEX | comma list of stage names to freeze"


@dataclass(frozen=True)
class StageRow:
    """One row of the freeze map the UI shows."""
    stage: str
    params: int
    trainable: int
    lr_multiplier: float

    @property
    def frozen(self) -> bool:
        return self.trainable == 0


def backbone_stage_names(backbone: Backbone) -> list[str]:
    return [s for s in backbone.stage_names() if s != HEAD]


def parse_freeze_spec(spec: str, backbone: Backbone | list[str]) -> tuple[set[str], str | None]:
    """(stages to freeze, parameter-name regex or None) for a spec string.

    ``all``: every backbone stage frozen (a linear probe); ``none``: full fine-tune;
    ``last:K``: only the last K backbone stages (and the head) train; ``pattern:REGEX``:
    freeze parameters whose name matches; otherwise a comma list of stage names.
    """
    # Stage names alone are enough, so a config can be checked before any model is built.
    stages = [s for s in backbone if s != HEAD] if isinstance(backbone, list) else backbone_stage_names(backbone)
    spec = spec.strip()
    if spec == "all":
        return set(stages), None
    if spec == "none":
        return set(), None
    if spec.startswith("last:"):
        try:
            k = int(spec[len("last:"):])
        except ValueError:
            raise ValueError(f"bad freeze spec {spec!r}: last:K needs a whole number K") from None
        if not 0 <= k <= len(stages):
            raise ValueError(f"bad freeze spec {spec!r}: K must be 0..{len(stages)} for this backbone")
        return set(stages[: len(stages) - k]), None
    if spec.startswith("pattern:"):
        pattern = spec[len("pattern:"):]
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad freeze pattern {pattern!r}: {exc}") from None
        return set(), pattern
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [s for s in names if s not in stages]
    if unknown or not names:
        raise ValueError(f"bad freeze spec {spec!r}: unknown stages {unknown}; stages of this backbone: "
                         f"{', '.join(stages)}; or {FREEZE_SPEC_HELP}")
    return set(names), None


def frozen_parameters(backbone: Backbone, spec: str | set[str]) -> set[int]:
    """The ids of the parameters ``spec`` (a spec string or a set of stage names) freezes."""
    frozen, pattern = parse_freeze_spec(spec, backbone) if isinstance(spec, str) else (set(spec), None)
    regex = re.compile(pattern) if pattern else None
    return {id(p) for stage in backbone.stages() for name, p in stage.parameters
            if stage.name in frozen or (regex is not None and regex.search(name))}


def apply_freeze(backbone: Backbone, spec: str | set[str] = "none", bn_policy: str = "freeze") -> None:
    """Freeze by spec string (see ``parse_freeze_spec``) or by a set of stage names."""
    if bn_policy not in BN_POLICIES:
        raise ValueError(f"unknown BatchNorm policy {bn_policy!r}; valid: {', '.join(BN_POLICIES)}")
    frozen = frozen_parameters(backbone, spec)
    for stage in backbone.stages():
        for _, p in stage.parameters:
            p.requires_grad_(id(p) not in frozen)
    # A stage counts as frozen for the BatchNorm policy when none of its parameters train.
    backbone.frozen_stages = frozenset(
        s.name for s in backbone.stages() if s.parameters and not any(p.requires_grad for _, p in s.parameters))
    backbone.bn_policy = bn_policy
    backbone.train(backbone.training)  # re-apply the BN policy to the current mode


def stage_lr_multipliers(backbone: Backbone, decay: float = 1.0,
                         overrides: dict[str, float] | None = None) -> dict[str, float]:
    """Discriminative LRs: the head gets 1, each stage below it ``decay`` times the next.

    ``decay=1`` gives one LR for everything; 0.5 halves it per stage going down (the
    layer-wise decay of ULMFiT/BEiT). ``overrides`` sets single stages explicitly.
    """
    names = backbone.stage_names()
    mult = {s: decay ** (len(names) - 1 - i) for i, s in enumerate(names)}
    for s, v in (overrides or {}).items():
        if s not in mult:
            raise ValueError(f"unknown stage {s!r}; stages: {', '.join(names)}")
        mult[s] = float(v)
    return mult


def param_groups(backbone: Backbone, base_lr: float, multipliers: dict[str, float] | None = None,
                 weight_decay: float = 0.0, plan: str | None = None) -> list[dict]:
    """Optimiser parameter groups, one per stage with parameters to train.

    ``plan``: the freeze spec the run trains by its end. Its parameters join their groups
    even while frozen now (gradual unfreezing and LP-FT start frozen), so unfreezing needs
    no new optimiser. Parameters that neither train now nor by the plan stay out: AdamW
    walks every parameter of every group on each step, and with the backbone frozen behind
    the feature cache those ~200 idle tensors cost about a third of the head's step.
    """
    multipliers = multipliers or {}
    later = None if plan is None else frozen_parameters(backbone, plan)
    groups = []
    for stage in backbone.stages():
        params = [p for _, p in stage.parameters if p.requires_grad or (later is not None and id(p) not in later)]
        if params:
            m = multipliers.get(stage.name, 1.0)
            groups.append({"params": params, "lr": base_lr * m, "weight_decay": weight_decay,
                           "stage": stage.name, "lr_multiplier": m})
    return groups


def freeze_table(backbone: Backbone, multipliers: dict[str, float] | None = None) -> list[StageRow]:
    multipliers = multipliers or {}
    return [StageRow(s.name, s.num_params(), sum(p.numel() for _, p in s.parameters if p.requires_grad),
                     multipliers.get(s.name, 1.0)) for s in backbone.stages()]


def trainable_fraction(backbone: Backbone) -> float:
    total = sum(p.numel() for p in backbone.parameters())
    return sum(p.numel() for p in backbone.parameters() if p.requires_grad) / max(total, 1)

