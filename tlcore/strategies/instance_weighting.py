"""Instance-based transfer: weight each source sample by how target-like it is.

The weight is the density ratio p_target(x) / p_source(x), estimated from the odds of a
logistic-regression domain classifier on the pretrained features (Bickel et al. 2007),
clipped so a few samples cannot dominate, and normalised to mean 1. The weights are
saved with the run so the UI can draw them.
"""
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from .base import Strategy, StrategyInfo, accuracy, register_strategy


def density_ratio_weights(f_source: np.ndarray, f_target: np.ndarray, clip: float = 10.0,
                          seed: int = 0) -> np.ndarray:
    """p_t(x)/p_s(x) for each source row, from a domain classifier's odds, mean 1."""
    x = np.concatenate([f_source, f_target])
    d = np.concatenate([np.zeros(len(f_source)), np.ones(len(f_target))])
    mu, sd = x.mean(0), x.std(0) + 1e-6
    clf = LogisticRegression(C=0.1, max_iter=2000, random_state=seed).fit((x - mu) / sd, d)
    p_t = clf.predict_proba((f_source - mu) / sd)[:, 1]
    odds = p_t / np.clip(1 - p_t, 1e-6, None) * (len(f_source) / len(f_target))  # prior correction
    w = np.clip(odds, 1.0 / clip, clip)
    return (w / w.mean()).astype(np.float32)


@register_strategy
class InstanceWeighting(Strategy):
    info = StrategyInfo(
        name="instance_weighting", family="instance-based",
        description="Weight source samples by how target-like they are (domain-classifier density ratio)",
        needs_source=True, needs_target_labels=False, cacheable=True, semi_supervised=True,
        metrics={"mean_weight": "mean instance weight"},
        defaults={"clip": 10.0, "target_weight": 1.0},
        help={"clip": "largest weight ratio allowed (weights are clipped to [1/clip, clip])",
              "target_weight": "weight of the loss on labelled target images, when there are some"})

    def setup(self, context):
        super().setup(context)
        f_s, _ = context.initial_features("source_train")
        f_t, _ = context.initial_features("target_unlabelled")
        weights = density_ratio_weights(f_s, f_t, self.hp["clip"], context.config.seed)
        self.register_buffer("source_weights", torch.from_numpy(weights), persistent=False)
        self._ids = context.source_ids("train")

    def training_step(self, batch, progress):
        w = self.source_weights.to(batch["src_x"].device)[batch["src_i"]]
        loss, _, logits = self.classify(batch["src_x"], batch["src_y"], weight=w)
        parts = {"cls_loss": loss.detach(), "src_acc": accuracy(logits, batch["src_y"])}
        if "tgt_x" in batch:
            tgt_loss, _, _ = self.classify(batch["tgt_x"], batch["tgt_y"])
            loss = loss + self.hp["target_weight"] * tgt_loss
            parts["tgt_cls_loss"] = tgt_loss.detach()
        return {"loss": loss, **parts, "mean_weight": w.mean().detach()}

    def artifacts(self):
        w = self.source_weights.cpu().numpy()
        return {"instance_weights.json": {"ids": list(self._ids), "weights": [round(float(v), 5) for v in w],
                                          "summary": {"min": float(w.min()), "max": float(w.max()),
                                                      "effective_sample_size": float(w.sum() ** 2 / (w ** 2).sum())}}}
