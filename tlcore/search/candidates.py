"""The recipes the search tries: a small, stated set, cheapest first.

Every candidate is an ordinary RunConfig: the user's data, backbone, image size, batch
size, seed and hardware settings, with the method, freeze plan, learning rate and
augmentation of the recipe. The first is always the optimal linear head (seconds, and the
floor: the search never returns a model below it on validation). The second is the same head
on the images at twice the chosen size (at most the backbone's native input): a pretrained
network's features are much better at a size nearer the one it was trained on (lite0's
optimal linear head on clip art with 5 labels a class: 32% test at 48 px, 44% at 96 px;
benchmarks/probe_sizes.py). An LP-FT at twice the size was tried too and dropped: on the
demo its set-up (the head's features at 128 px, again at every rung) took the budget the
fine-tuning recipes needed (0.83 val in place of 0.91), for +0.1 on the grid's average.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..backbones import backbone_info
from ..config import AUGMENTATIONS, RunConfig, StrategyConfig
from ..strategies import strategy_info

EPOCHS = 12  # what a candidate that survives every rung trains for (its cosine schedule's length)
MIN_STEPS = 60  # ... at least: 5 labels a class of 10 classes is one batch an epoch


def epochs_for(labelled_images: int, batch_size: int) -> int:
    """EPOCHS, or a multiple of it when an epoch is only a step or two, so every candidate gets
    at least MIN_STEPS optimiser steps (a multiple: the rungs stay on evaluated epochs)."""
    steps_per_epoch = max(1, labelled_images // batch_size)
    return EPOCHS * max(1, -(-MIN_STEPS // (steps_per_epoch * EPOCHS)))


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    strategy: str
    freeze: str
    lr: float = 1e-3
    lr_decay: float = 1.0
    augment: str = "none"
    needs_source: bool = False
    needs_target_labels: bool = True
    scale: int = 1  # the image size it trains at, as a multiple of the chosen one (capped at the native input)
    params: tuple[tuple[str, object], ...] = ()  # the strategy's parameters over its defaults


def _augment(preferred: str) -> str:
    """The preset if this version has it, else the strongest older one."""
    return preferred if preferred in AUGMENTATIONS else "flip" if "flip" in AUGMENTATIONS else "none"


PROBE_HEAD = (("head_init", "source_probe"),)
# name, description, strategy, freeze, parameters: the ones measured in
# benchmarks/adaptation_selection.py (cdan and self_training were not, for CPU time: not here).
ADAPTATION_RECIPES = (
    ("MCC, frozen trunk", "minimum class confusion moves the head alone, from the source probe, on cached features",
     "mcc", "all", PROBE_HEAD),
    ("MCC", "minimum class confusion on the target, the last two stages train", "mcc", "last:2", ()),
    ("MMD", "source and target feature distributions aligned (MMD), the last two stages train", "mmd", "last:2", ()),
)


def recipes() -> list[Recipe]:
    """Target-only recipes, then the adaptation ones (tried when there is a source set)."""
    return [
        Recipe("linear head", "every backbone stage frozen; logistic regression on the features, solved to its "
               "optimum (L2 chosen on val)", "finetune", "all"),
        Recipe("linear head, larger images", "the optimal linear head on features of the images at twice the "
               "chosen size (at most the backbone's native input size)", "finetune", "all", scale=2),
        Recipe("last stage + augmentation", "the last stage and the head train, standard augmentation",
               "finetune", "last:1", augment=_augment("standard")),
        Recipe("last two stages", "the last two stages and the head train, light augmentation", "finetune", "last:2",
               augment=_augment("light")),
        # From an optimal head, AdamW at 1e-4 (LP-FT's tenth of 1e-3) took fashion 10/class from
        # 0.71 to 0.36 val in one epoch; at 1e-5 it keeps the head's 0.71 and climbs (0.713 by 6 of 24).
        Recipe("LP-FT", "the optimal linear head first, then every stage fine-tunes at 1e-5", "lp_ft",
               "none", lr=1e-4, augment=_augment("light")),
        Recipe("full fine-tune, discriminative LRs", "every stage trains; each stage down from the head at half "
               "the LR of the one above", "finetune", "none", lr_decay=0.5, augment=_augment("light")),
        # The adaptation recipes: "source only" is the source-only twin every adaptation run is
        # judged against; without target labels the validator picks (tlcore.validators.CHOSEN),
        # so the search never returns a model it rates below source only.
        Recipe("source only", "the optimal linear head on the labelled source: no adaptation", "source_only", "all",
               needs_source=True, needs_target_labels=False),
        *(Recipe(name, description, strategy, freeze, needs_source=True, needs_target_labels=False, params=params)
          for name, description, strategy, freeze, params in ADAPTATION_RECIPES),
    ]


def candidate_configs(base: RunConfig, epochs: int = EPOCHS,
                      adaptation_epochs: int | None = None) -> list[tuple[Recipe, RunConfig]]:
    """Each applicable recipe as a config on ``base``'s data and hardware. Without a source
    set, the target-only recipes; with one, the adaptation recipes too (the target-only ones
    need labelled target images: with --target-labels 0 they are left out). The target-only
    recipes train ``epochs``, the adaptation ones ``adaptation_epochs`` (default the same):
    their epoch walks the source, usually far larger than a few labels a class."""
    has_source = bool(base.data.source)
    target_labels = base.data.target_labels_per_class != 0
    chosen = [r for r in recipes() if (r.needs_source and has_source)
              or (not r.needs_source and r.needs_target_labels and target_labels)]
    native = backbone_info(base.model.backbone).input_size
    size = base.data.image_size or native
    return [(recipe, _config(base, recipe, (adaptation_epochs or epochs) if recipe.needs_source else epochs,
                             min(size * recipe.scale, native) if recipe.scale > 1 else base.data.image_size))
            for recipe in chosen if recipe.scale == 1 or size < native]  # at the native size: no larger copy


def _config(base: RunConfig, recipe: Recipe, epochs: int, image_size: int | None) -> RunConfig:
    # A solved linear head is one "epoch"; MCC on a frozen trunk trains its head by SGD epochs.
    linear = recipe.freeze == "all" and bool(strategy_info(recipe.strategy).linear_head_data)
    source = {} if recipe.needs_source else {"source": None, "source_domain": None}  # not loaded for nothing
    return base.replace(
        name=recipe.name, search_budget_s=0.0,
        data=dataclasses.replace(base.data, augment="none" if linear else recipe.augment, image_size=image_size,
                                 **source),
        model=dataclasses.replace(base.model, freeze=recipe.freeze, lr_decay=recipe.lr_decay),
        strategy=StrategyConfig(recipe.strategy, dict(recipe.params)),
        optim=dataclasses.replace(base.optim, name="adamw", lr=recipe.lr, head_solver="lbfgs"),
        # Evaluated on val 12 times over the schedule, so at every rung (1/12, 1/4, all of it).
        schedule=dataclasses.replace(base.schedule, epochs=1 if linear else epochs, scheduler="cosine",
                                     warmup_epochs=0.0, early_stopping_patience=None,
                                     eval_every=1 if linear else max(1, epochs // EPOCHS), monitor="accuracy",
                                     eval_test=False, stop_after_epochs=0),
        feature_map=dataclasses.replace(base.feature_map, every=0))
