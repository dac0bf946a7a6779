"""Optimisers and learning-rate schedules, each registered once by name: the config's
validation, the CLI's choices and the Train page's select boxes all read these registries.

A schedule is a function of (step, total steps, warm-up steps) -> LR factor; the loop
multiplies it by the strategy's ``lr_scale`` (LP-FT lowers it in its second phase). torch is
imported where it is used, so the CLI can list the names without loading it.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..config import RunConfig
from ..registry import Registry


@dataclass(frozen=True)
class OptimizerInfo:
    name: str
    description: str


@dataclass(frozen=True)
class ScheduleInfo:
    name: str
    description: str
    default_warmup: float = 0.0  # share of all steps warmed up when the config asks for none


_OPTIMIZERS: Registry[OptimizerInfo] = Registry("optimiser")
_SCHEDULES: Registry[ScheduleInfo] = Registry("LR schedule")


def register_optimizer(name: str, description: str):
    """Decorator: ``factory(param_groups, OptimConfig) -> torch.optim.Optimizer``."""
    def add(factory):
        _OPTIMIZERS.register(name, OptimizerInfo(name, description), factory)
        return factory
    return add


def register_schedule(name: str, description: str, default_warmup: float = 0.0):
    """Decorator: ``factor(step, total_steps, warmup_steps) -> LR multiplier``."""
    def add(factor):
        _SCHEDULES.register(name, ScheduleInfo(name, description, default_warmup), factor)
        return factor
    return add


def list_optimizers() -> list[str]:
    return _OPTIMIZERS.names()


def list_schedules() -> list[str]:
    return _SCHEDULES.names()


def optimizer_info(name: str) -> OptimizerInfo:
    return _OPTIMIZERS.get(name).info


def schedule_info(name: str) -> ScheduleInfo:
    return _SCHEDULES.get(name).info


@register_optimizer("adamw", "AdamW (decoupled weight decay)")
def _adamw(groups, optim):
    import torch
    return torch.optim.AdamW(groups, lr=optim.lr)


@register_optimizer("sgd", "SGD with momentum (the DANN paper's recipe)")
def _sgd(groups, optim):
    import torch
    return torch.optim.SGD(groups, lr=optim.lr, momentum=optim.momentum)


def _cosine_after_warmup(step: int, total: int, warm: int) -> float:
    q = (step - warm) / max(total - warm, 1) if step >= warm else 0.0
    return 0.5 * (1 + math.cos(math.pi * min(q, 1.0)))


@register_schedule("cosine", "cosine decay to 0 after the warm-up")
def _cosine(step, total, warm):
    return _cosine_after_warmup(step, total, warm)


@register_schedule("onecycle", "a linear warm-up (30% of the steps unless set) then cosine decay",
                   default_warmup=0.3)
def _onecycle(step, total, warm):
    return _cosine_after_warmup(step, total, warm)


@register_schedule("constant", "the same LR throughout (after the warm-up)")
def _constant(step, total, warm):
    return 1.0


@register_schedule("dann", "lr / (1 + 10p)^0.75, p the progress from 0 to 1 (the DANN paper)")
def _dann(step, total, warm):
    return 1.0 / (1.0 + 10 * min(step / max(total, 1), 1.0)) ** 0.75


def lr_lambda(config: RunConfig, total_steps: int, steps_per_epoch: int, strategy) -> Callable[[int], float]:
    """The LR factor of every step: a linear warm-up, the named schedule, the strategy's scale."""
    entry = _SCHEDULES.get(config.schedule.scheduler)
    warm = int(config.schedule.warmup_epochs * steps_per_epoch) or int(entry.info.default_warmup * total_steps)

    def factor(step: int) -> float:
        ramp = (step + 1) / warm if step < warm else 1.0
        return ramp * entry.factory(step, total_steps, warm) * strategy.lr_scale
    return factor


def build_optimizer(config: RunConfig, strategy, total_steps: int, steps_per_epoch: int):
    """Per-stage parameter groups (discriminative LRs; stages the freeze plan trains are
    included while still frozen, so they can be unfrozen later), the strategy's own modules
    at the base LR, and the LR schedule."""
    import torch

    from ..freezing import param_groups, stage_lr_multipliers
    mult = stage_lr_multipliers(strategy.backbone, config.model.lr_decay)
    groups = param_groups(strategy.backbone, config.optim.lr, mult, config.optim.weight_decay, plan=strategy.freeze)
    backbone_ids = {id(p) for p in strategy.backbone.parameters()}
    extra = [p for p in strategy.parameters() if id(p) not in backbone_ids]  # e.g. a discriminator
    if extra:
        groups.append({"params": extra, "lr": config.optim.lr, "weight_decay": config.optim.weight_decay})
    optimizer = _OPTIMIZERS.get(config.optim.name).factory(groups, config.optim)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(config, total_steps, steps_per_epoch, strategy))
