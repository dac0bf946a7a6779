"""The loop's training batches: one shuffled loader per kind of batch a strategy uses, and
the dict each step is given (src_x, src_y, src_i, tgt_x, tgt_y, tgt_i, tgt_u)."""
from __future__ import annotations

import numpy as np
import torch

from ..data.pipeline import TensorBatches, balanced_sampling, make_loader
from .context import TrainContext

BATCH_KEYS = {"src": "source_train", "tgt": "target_labelled", "tgt_u": "target_unlabelled"}
LABELLED_KINDS = ("src", "tgt")  # tgt_u's labels are never looked at, so never balanced on


def batch_kinds(ctx: TrainContext) -> list[str]:
    """The kinds of batch the run's strategy trains on."""
    info, data = ctx.strategy_info, ctx.data
    return [k for k, on in (("src", info.needs_source),
                            ("tgt", info.needs_target_labels or (info.semi_supervised and len(data.target_labelled))),
                            ("tgt_u", info.uses_unlabelled_target)) if on]


def build_loaders(ctx: TrainContext, cached: bool) -> tuple[dict, str]:
    """(one shuffled loader per batch kind, the kind an epoch is one pass over). An epoch is
    one pass over the larger labelled set: a joint run with 10 target labels a class walks
    the source once (not 2 batches of targets); the others cycle alongside. A labelled
    loader draws classes evenly when DataConfig.balance says so (see balanced_kinds)."""
    config, fabric = ctx.config, ctx.fabric
    kinds = batch_kinds(ctx)
    balanced = balanced_kinds(ctx, kinds)
    if cached:
        loaders = {k: TensorBatches(ctx.cached_training_set(BATCH_KEYS[k]).tensors, config.batch_size, config.seed + j,
                                    fabric.device, balanced=k in balanced) for j, k in enumerate(kinds)}
    else:
        loaders = {k: fabric.setup_dataloaders(make_loader(ctx.dataset(BATCH_KEYS[k]), config.batch_size, True,
                                                           config.seed + j, balanced=k in balanced),
                                               move_to_device=True)
                   for j, k in enumerate(kinds)}
    main = max((k for k in ("src", "tgt") if k in loaders), key=lambda k: len(loaders[k]))
    return loaders, main


def balanced_kinds(ctx: TrainContext, kinds: list[str]) -> set[str]:
    """The labelled batch kinds drawn class-balanced. When "auto" turns the sampler on, a line
    saying so is appended to ctx.warnings, for the loop to log (after it logged the earlier ones)."""
    balance, chosen = ctx.config.data.balance, set()
    for kind in kinds:
        if kind not in LABELLED_KINDS:
            continue
        labels = ctx.dataset(BATCH_KEYS[kind]).labels
        if balanced_sampling(labels, balance):
            chosen.add(kind)
            if balance == "auto":
                counts = np.bincount(labels)
                present = counts[counts > 0]
                ctx.warnings.append(
                    f"class balance: the {BATCH_KEYS[kind].replace('_', ' ')} set is imbalanced "
                    f"({present.max()} vs {present.min()} images a class), so its batches draw classes evenly "
                    "(balance=auto; balance=off trains on the classes as they come)")
    return chosen


def reseed(loaders: dict, seed: int, epoch: int) -> None:
    """The same shuffles in an epoch whether the run was resumed or not."""
    for j, loader in enumerate(loaders.values()):
        if hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)
        elif getattr(loader, "generator", None) is not None:
            loader.generator.manual_seed(seed * 1000 + epoch * 10 + j)
    torch.manual_seed(seed * 1000 + epoch)


def forever(loader):
    while True:
        yield from loader


def assemble(ctx: TrainContext, parts: list[tuple[str, tuple]], cached: bool, channels_last: bool) -> dict:
    """One step's batch dict from (kind, (x, y, index)) parts; images are normalised (and
    augmented) here, on the device; cached features pass as they are."""
    batch = {}
    for key, (x, y, i) in parts:
        if key == "tgt_u" and ctx.strategy_info.strong_unlabelled_view and not cached:
            batch["tgt_u_strong"] = ctx.preprocess(x, train=True, augment="consistency")
        if not cached:
            x = ctx.preprocess(x, train=True)
            if channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
        batch.update({key: x} if key == "tgt_u" else {f"{key}_x": x, f"{key}_y": y, f"{key}_i": i})
    return batch


def images_in(batch: dict) -> int:
    return sum(len(v) for k, v in batch.items() if k.endswith("_x") or k == "tgt_u")
