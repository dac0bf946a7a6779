"""Label-free validation inside the loop: at every evaluation of a run with a source set, the
validators of tlcore.validators on the model's outputs, recorded as "validators.<name>"
like any metric; and the same for the before-transfer probe of a run without target
labels, the source-only twin every adaptation run is judged against (tlcore.verdict)."""
from __future__ import annotations

import numpy as np
import torch

from ..data.pipeline import stacked_batches
from ..embed.gap import proxy_a_distance
from ..validators import label_free_scores
from .context import TrainContext

MAX_IMAGES = 600  # per split: SND's similarity matrix is n x n; 600 keeps it at ~50 ms


def applies(ctx: TrainContext) -> bool:
    return all(ctx.has(s) for s in ("source_train", "source_val", "target_unlabelled"))


def _subset(ctx: TrainContext, which: str, seed: int) -> np.ndarray:
    n = len(ctx.dataset(which))
    return np.sort(np.random.default_rng(seed).permutation(n)[:MAX_IMAGES])


@torch.no_grad()
def _outputs(ctx: TrainContext, module, fabric, which: str, cached: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, softmax probabilities, labels) of a fixed subset of ``which``."""
    index = _subset(ctx, which, ctx.config.seed)
    dataset = ctx.cached_dataset(which) if cached else ctx.dataset(which)
    feats, probs, labels = [], [], []
    for x, y in stacked_batches(dataset, max(ctx.config.batch_size, 64), index):
        x = fabric.to_device(x)
        with fabric.autocast():
            f = x if cached else module.forward_features(ctx.preprocess(x))
            logits = module.forward_head(f)
        feats.append(f.float().flatten(1).cpu())
        probs.append(logits.float().softmax(1).cpu())
        labels.append(y)
    return torch.cat(feats).numpy(), torch.cat(probs).numpy(), torch.cat(labels).numpy()


def validator_metrics(ctx: TrainContext, strategy, fabric, cached: bool) -> dict[str, float]:
    """The validators of the model as it is now, as "validators.<name>" metrics ({} when the
    run has no source or no unlabelled target)."""
    if not applies(ctx):
        return {}
    source, target = strategy.eval_model("source"), strategy.eval_model("target")
    f_sv, p_sv, y_sv = _outputs(ctx, source, fabric, "source_val", cached)
    f_st, _, _ = _outputs(ctx, source, fabric, "source_train", cached)
    f_t, p_t, _ = _outputs(ctx, target, fabric, "target_unlabelled", cached)
    scores = label_free_scores((f_sv, p_sv, y_sv), (f_t, p_t), f_st, ctx.config.seed)
    return {**{f"validators.{k}": v for k, v in scores.items()},
            "gap.a_distance": proxy_a_distance(f_st, f_t, ctx.config.seed)}


def probe_validator_metrics(ctx: TrainContext, fit) -> dict[str, float]:
    """The validators of the source-only linear probe (``fit``, on the untrained network's
    features): what the run's own validators are compared with."""
    if fit is None or not applies(ctx):
        return {}
    parts = {}
    for which in ("source_val", "source_train", "target_unlabelled"):
        f, y = ctx.initial_features(which)
        index = _subset(ctx, which, ctx.config.seed)
        parts[which] = (f[index], fit.head.predict_proba(f[index]), y[index])
    f_sv, p_sv, y_sv = parts["source_val"]
    f_st, f_t = parts["source_train"][0], parts["target_unlabelled"][0]
    scores = label_free_scores((f_sv, p_sv, y_sv), parts["target_unlabelled"][:2], f_st, ctx.config.seed)
    return {**{f"validators.{k}": v for k, v in scores.items()},
            "gap.a_distance": proxy_a_distance(f_st, f_t, ctx.config.seed)}
