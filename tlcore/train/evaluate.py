"""Evaluation inside the loop: every val and test split of both domains, sharded over the
processes of a multi-device run and gathered, with per-class details of each."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..data.pipeline import stacked_batches
from ..metrics import SCALARS, classification_metrics
from .context import TrainContext
from .label_free import validator_metrics


@torch.no_grad()
def predict(ctx: TrainContext, module, fabric, dataset, cached: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, predictions, confidences) on ``dataset``, sharded over the processes and
    gathered on every one, in the dataset's order."""
    rank, world = fabric.global_rank, fabric.world_size
    preds, confs, labels = [], [], []
    for x, y in stacked_batches(dataset, max(ctx.config.batch_size, 64), range(rank, len(dataset), world)):
        x = fabric.to_device(x)
        with fabric.autocast():
            logits = module.forward_head(x) if cached else module(ctx.preprocess(x))
        prob = logits.float().softmax(1)
        conf, pred = prob.max(1)
        # The probability given to the true class, for the mean cross-entropy (val loss).
        p_true = prob.gather(1, y.to(prob.device).clamp(min=0)[:, None])[:, 0]
        preds.append(pred.cpu())
        confs.append(torch.stack([conf, p_true], 1).cpu())
        labels.append(y)
    pred = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long)
    conf = torch.cat(confs) if confs else torch.zeros(0, 2)
    true = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long)
    if world > 1:  # pad to equal length, gather, drop the padding, restore the dataset's order
        n = math.ceil(len(dataset) / world)
        pad = lambda t, v: torch.cat([t, torch.full((n - len(t),), v, dtype=t.dtype)])  # noqa: E731
        pred, true = (fabric.all_gather(pad(t, -1)).cpu().flatten() for t in (pred, true))
        conf = fabric.all_gather(torch.cat([conf, torch.zeros(n - len(conf), 2)])).cpu().reshape(-1, 2)
        order = torch.tensor([i for r in range(world) for i in range(r, len(dataset), world)
                              ] + [-1] * (n * world - len(dataset)))
        keep = true >= 0
        pred, conf, true, order = pred[keep], conf[keep], true[keep], order[keep]
        back = torch.argsort(order)
        pred, conf, true = pred[back], conf[back], true[back]
    return true.numpy(), pred.numpy(), conf.numpy()  # conf: (max probability, true-class probability)


def evaluate_all(ctx: TrainContext, strategy, fabric, cached: bool) -> dict:
    """Metrics on target and source val/test: 'target.test.accuracy' etc., plus details."""
    strategy.eval()
    if strategy.adapts_at_eval and not cached:
        strategy.adapt_for_eval(ctx.preprocess(fabric.to_device(x))
                                for x, _ in stacked_batches(ctx.dataset("target_unlabelled"), 128))
    metrics = {}
    for domain, split in (("target", "val"), ("target", "test"), ("source", "val"), ("source", "test")):
        which = f"{domain}_{split}"
        if (split == "test" and not ctx.config.schedule.eval_test) or not ctx.has(which):
            continue
        dataset = ctx.cached_dataset(which) if cached else ctx.dataset(which)
        true, pred, conf = predict(ctx, strategy.eval_model(domain), fabric, dataset, cached)
        m = classification_metrics(true, pred, ctx.data.class_names)
        m["predictions"] = {"true": true.tolist(), "pred": pred.tolist(),
                            "confidence": np.round(conf[:, 0], 4).tolist()}
        for name in SCALARS:
            metrics[f"{domain}.{split}.{name}"] = m[name]
        metrics[f"{domain}.{split}.loss"] = float(-np.log(np.clip(conf[:, 1], 1e-12, 1)).mean()) if len(conf) else None
        metrics[f"{domain}.{split}.details"] = m
    if ctx.strategy_info.needs_source:  # how the model looks without target labels (tlcore.validators)
        metrics.update(validator_metrics(ctx, strategy, fabric, cached))
    return metrics
