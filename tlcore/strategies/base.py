"""The Strategy contract and its registry.

A strategy holds the backbone (and any extra module such as a domain discriminator) and
turns one batch into named losses; the one training loop does everything else.
Batches are dicts with, where the strategy needs them:
  src_x, src_y, src_i   labelled source images, labels, and their indices in the source set
  tgt_x, tgt_y          labelled target images and labels (few, or all, or none)
  tgt_u                 unlabelled target images (the target training split, labels unused)
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..backbones import Backbone
from ..freezing import apply_freeze
from ..registry import Registry


@dataclass(frozen=True)
class StrategyInfo:
    name: str
    description: str  # one line, shown in the UI and the CLI
    family: str  # model-based | feature-based | instance-based | domain adaptation | baseline
    needs_source: bool
    needs_target_labels: bool
    defaults: Mapping[str, Any] = field(default_factory=dict)
    help: Mapping[str, str] = field(default_factory=dict)  # one line per hyper-parameter
    recommended_freeze: str | None = None
    cacheable: bool = False  # can train on cached features when the backbone is frozen
    # The labelled splits whose plain cross-entropy is the whole loss (e.g. target_labelled):
    # with a frozen backbone the head is then fitted to its optimum (tlcore.features.fit_linear_head).
    linear_head_data: tuple[str, ...] = ()
    semi_supervised: bool = False  # also uses labelled target images when there are some
    uses_unlabelled_target: bool = False  # trains on target images without their labels
    # The unlabelled target batch also comes strongly augmented, as batch["tgt_u_strong"]
    # (the same images in the same order; self-training's consistency needs both views).
    strong_unlabelled_view: bool = False
    # What training_step reports besides the loss and the classification terms, with the
    # label the Train page's adaptation chart gives it (e.g. "domain_acc": "discriminator accuracy").
    metrics: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        for name in ("defaults", "help", "metrics"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))


class Strategy(nn.Module):
    info: ClassVar[StrategyInfo]
    adapts_at_eval: ClassVar[bool] = False  # True: adapt_for_eval() needs target images first

    def __init__(self, backbone: Backbone, num_classes: int, params: Mapping[str, Any] | None = None,
                 freeze: str = "none", bn_policy: str = "freeze"):
        super().__init__()
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.info.defaults))
        if unknown:
            valid = ", ".join(self.info.defaults) or "none"
            raise ValueError(f"unknown parameters for strategy {self.info.name!r}: {', '.join(unknown)}; "
                             f"valid: {valid}")
        self.hp = {**self.info.defaults, **params}
        self.backbone = backbone
        self.num_classes = num_classes
        self.freeze = freeze
        self.bn_policy = bn_policy
        self.features_cached = False  # set by the loop when batches hold features, not images
        self.lr_scale = 1.0  # read by the LR schedule every step (LP-FT lowers it)

    # ---- hooks the loop calls
    def setup(self, context) -> None:
        """Once before training; ``context`` gives access to data and features (TrainContext)."""
        if self.hp.get("fixed_bn"):
            self.bn_policy = "fixed"
        apply_freeze(self.backbone, self.freeze, self.bn_policy)

    def on_epoch_start(self, epoch: int, epochs: int) -> str | None:
        """Called before each epoch (0-based); may change the freeze map. Returns a log line."""
        return None

    def training_step(self, batch: dict[str, torch.Tensor], progress: float) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def adapt_for_eval(self, target_images) -> None:
        """Called before evaluating on the target (AdaBN re-estimates statistics here)."""

    def eval_model(self, domain: str) -> nn.Module:
        """The module that maps images to logits when evaluating ``domain``."""
        return self.backbone

    def load_eval_state(self, state: dict[str, torch.Tensor]) -> nn.Module:
        """Load a checkpoint's weights for inference; returns the module that maps target
        images to logits. Only the backbone is needed (not a discriminator, say)."""
        prefix = "backbone."
        self.backbone.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        return self.eval_model("target")

    def artifacts(self) -> dict[str, Any]:
        """JSON-able things to save with the run (e.g. per-sample weights)."""
        return {}

    # ---- helpers for subclasses
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.features_cached else self.backbone.forward_features(x)

    def classify(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None):
        """(cross-entropy, features, logits) of a labelled batch; ``weight`` per sample."""
        f = self.features(x)
        logits = self.backbone.forward_head(f)
        loss = F.cross_entropy(logits, y, reduction="none")
        loss = (loss * weight).sum() / weight.sum() if weight is not None else loss.mean()
        return loss, f, logits

    def supervised_step(self, batch, domain: str) -> dict[str, torch.Tensor]:
        """Cross-entropy on one domain's labelled batch ('src' or 'tgt'): plain supervised training."""
        x, y = batch[f"{domain}_x"], batch[f"{domain}_y"]
        loss, _, logits = self.classify(x, y)
        return {"loss": loss, "cls_loss": loss.detach(),
                ("src_acc" if domain == "src" else "train_acc"): accuracy(logits, y)}

    def domain_features(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Features of several domains' batches, with shared or separate BatchNorm statistics."""
        if self.hp.get("bn_mode", "shared") == "separate":
            return [self.features(x) for x in xs]
        return list(torch.split(self.features(torch.cat(xs)), [len(x) for x in xs]))


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(1) == y).float().mean().detach()


_STRATEGIES: Registry[StrategyInfo] = Registry("strategy")


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    _STRATEGIES.register(cls.info.name, cls.info, cls)
    return cls


def list_strategies(pattern: str = "*") -> list[str]:
    return _STRATEGIES.names(pattern)


def strategy_info(name: str) -> StrategyInfo:
    return _STRATEGIES.get(name).info


def freeze_for(name: str, chosen: str | None = None) -> str:
    """The freeze plan a run of strategy ``name`` uses: the one the user chose, else the
    strategy's recommendation (LP-FT and gradual unfreezing need every stage in the plan),
    else ModelConfig's default. The CLI and the Train page both decide by this."""
    from ..config import ModelConfig
    return chosen or strategy_info(name).recommended_freeze or ModelConfig.freeze


def step_metric_labels() -> dict[str, str]:
    """Every registered strategy's own step metrics, name -> label (the first label wins)."""
    labels: dict[str, str] = {}
    for entry in _STRATEGIES:
        for name, label in entry.info.metrics.items():
            labels.setdefault(name, label)
    return labels


def create_strategy(name: str, backbone: Backbone, num_classes: int, params=None, freeze: str = "none",
                    bn_policy: str = "freeze") -> Strategy:
    return _STRATEGIES.get(name).factory(backbone, num_classes, params, freeze, bn_policy)


class TargetStatisticsEval(Strategy):
    """Evaluates the target with a copy of the backbone whose BatchNorm statistics were
    re-estimated on target images (AdaBN; DSBN at test). The copy is a submodule, so it is
    saved with the checkpoint, loaded back for prediction and exported."""
    adapts_at_eval = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._target_model = None

    @torch.no_grad()
    def adapt_for_eval(self, target_images) -> None:
        self._target_model = target_statistics_copy(self.backbone, target_images)

    def eval_model(self, domain: str) -> nn.Module:
        model = self._target_model
        return model if domain == "target" and model is not None else self.backbone

    def load_eval_state(self, state):
        model = super().load_eval_state(state)
        prefix = "_target_model."  # the target-statistics copy, present once it was evaluated
        if self.adapts_at_eval and any(k.startswith(prefix) for k in state):
            self._target_model = copy.deepcopy(self.backbone).eval()
            self._target_model.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
            model = self._target_model
        return model


class AdaptationStrategy(TargetStatisticsEval):
    """Shared by the DA strategies: a supervised loss on the source (plus the labelled
    target images, when there are some) and features of both domains to align.

    Two options every method has (DA_DEFAULTS):
      bn_mode "domain": domain-specific BatchNorm (DSBN, Chang et al. 2019; AdaBN at test):
        each domain's batch is normalised with its own statistics in training, and the target
        is evaluated with statistics re-estimated on target images.
      head_init "source_probe": the head starts as the optimal linear head on the pretrained
        features of the source (LP-FT, Kumar et al. 2022): with a random head the first
        steps' large gradients distort the features that transfer.
    """

    @property
    def adapts_at_eval(self) -> bool:  # type: ignore[override]
        return self.hp.get("bn_mode") == "domain"

    def setup(self, context) -> None:
        super().setup(context)
        self._target_model = None
        if self.hp.get("head_init") == "source_probe":
            copy_linear_fit(self.backbone.head, context.linear_fit(("source_train",)), self.num_classes)

    def domain_features(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.hp.get("bn_mode") == "domain":
            return [self.features(x) for x in xs]
        return super().domain_features(xs)

    def supervised_and_features(self, batch):
        f_s, f_t = self.domain_features([batch["src_x"], batch["tgt_u"]])
        logits_s = self.backbone.forward_head(f_s)
        parts = {"cls_loss": F.cross_entropy(logits_s, batch["src_y"]), "src_acc": accuracy(logits_s, batch["src_y"])}
        loss = parts["cls_loss"]
        if "tgt_x" in batch:  # semi-supervised: a few labelled target images
            parts["tgt_cls_loss"], _, _ = self.classify(batch["tgt_x"], batch["tgt_y"])
            loss = loss + self.hp["target_weight"] * parts["tgt_cls_loss"]
        return loss, parts, f_s, f_t



def copy_linear_fit(head: nn.Module, fit, num_classes: int) -> bool:
    """Put a LinearFit's weights in a linear head; False (head untouched) when there is none."""
    if fit is None or not isinstance(head, nn.Linear):
        return False
    weight, bias = fit.head.linear_weights(num_classes)
    with torch.no_grad():
        head.weight.copy_(weight.to(head.weight.device))
        head.bias.copy_(bias.to(head.bias.device))
    return True


@torch.no_grad()
def target_statistics_copy(backbone: Backbone, target_images) -> Backbone:
    """A copy of ``backbone`` whose BatchNorm statistics are re-estimated on the target
    (AdaBN, Li et al. 2016): a cumulative average over all of ``target_images``' batches."""
    model = copy.deepcopy(backbone)
    for bn in (m for m in model.modules() if isinstance(m, _BatchNorm)):
        bn.reset_running_stats()
        bn.momentum = None
    model.bn_policy = "update"
    model.train()
    for x in target_images:
        model.forward_features(x)
    return model.eval()


DA_DEFAULTS = {"bn_mode": "shared", "target_weight": 1.0, "head_init": "random"}
DA_HELP = {"bn_mode": "shared: source and target in one batch for BatchNorm; separate: each domain's batch "
                      "normalised on its own; domain: separate, and the target evaluated with its own statistics "
                      "(domain-specific BatchNorm)",
           "target_weight": "weight of the loss on labelled target images, when there are some",
           "head_init": "random: the head starts from scratch; source_probe: from the optimal linear head on the "
                        "source's pretrained features (LP-FT), so early steps do not distort them"}
