"""The feature map of a run: a fixed probe set of source and target images whose pooled
features the training loop snapshots before training (the pretrained view) and every k
epochs, with the predictions of that moment and an instant PCA layout. The UMAP layout
and the domain-gap numbers follow from tlcore.embed.layout, in a process of their own.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..data.pipeline import ResizedImages
from ..data.thumbnails import thumbnails
from ..features import extract_features
from .gap import stratified_probe
from .layout import pca_layout, start_layout_process
from .snapshots import is_done, snapshot_path, write_probe, write_snapshot


def probe_sets(data, per_domain: int, seed: int) -> list[tuple[str, object, np.ndarray, np.ndarray]]:
    """(domain, ImageSet, indices, labels in the target's class indices) for the target and,
    if there is one, the source. Target images whose labels are trained on are left out when
    others exist, so 'correct' on the map means correct on images the run never learnt from."""
    n_target = len(data.target.labels)
    pool = np.setdiff1d(np.arange(n_target), data.target_labelled)
    pool = pool if len(pool) else np.arange(n_target)
    t_idx = pool[stratified_probe(data.target.labels[pool], per_domain, seed)]
    parts = [("target", data.target, t_idx, data.target.labels[t_idx])]
    if data.source is not None:
        s_pool = data.source_index("train")
        s_idx = s_pool[stratified_probe(data.source_labels[s_pool], per_domain, seed)]
        parts.append(("source", data.source, s_idx, data.source_labels[s_idx]))
    return parts


def probe_record(parts, class_names, weights: dict[str, float] | None = None, **extra) -> dict:
    """probe.json: one entry per point in every list, target points first."""
    domain, label, ids, weight = [], [], [], []
    for name, image_set, index, labels in parts:
        domain += [name] * len(index)
        label += [int(v) for v in labels]
        ids += [image_set.ids[i] for i in index]
        weight += [weights.get(image_set.ids[i]) if weights and name == "source" else None for i in index]
    return {"class_names": list(class_names), "domain": domain, "label": label, "id": ids,
            "weight": weight if any(w is not None for w in weight) else None, **extra}


class FeatureSnapshots:
    """Snapshots of the probe set's features for one run, in ``folder`` (RUN/snapshots)."""

    def __init__(self, folder: Path, ctx, strategy, per_domain: int, every: int, start_layout: bool = True):
        self.folder, self.every, self.ctx = Path(folder), every, ctx
        parts = probe_sets(ctx.data, per_domain, ctx.config.seed)
        self.datasets = {name: ResizedImages(images, ctx.image_size, index, labels)
                         for name, images, index, labels in parts}
        artifact = strategy.artifacts().get("instance_weights.json")
        weights = dict(zip(artifact["ids"], artifact["weights"])) if artifact else None
        probe = probe_record(parts, ctx.data.class_names, weights, image_size=ctx.image_size,
                             backbone=ctx.config.model.backbone, per_domain=per_domain)
        write_probe(self.folder, probe, np.concatenate([thumbnails(s, i) for _, s, i, _ in parts]))
        (self.folder / "done").unlink(missing_ok=True)  # a resumed run writes more
        self._fixed_features: dict[str, torch.Tensor] = {}
        self._last_pca = None
        self.layout = start_layout_process(self.folder) if start_layout else None

    def has(self, epoch: int) -> bool:
        return snapshot_path(self.folder, epoch).exists()

    def due(self, epoch: int, last: bool) -> bool:
        return epoch % self.every == 0 or last

    @torch.no_grad()
    def take(self, epoch: int, strategy, features_fixed: bool = False) -> dict:
        """Features and predictions of the probe set now; ``features_fixed``: the backbone
        is frozen (feature cache), so its features are computed once and reused."""
        t0 = time.perf_counter()
        fabric, ctx = self.ctx.fabric, self.ctx
        was_training = strategy.training
        strategy.eval()
        features, preds = [], []
        for domain, dataset in self.datasets.items():
            module = strategy.eval_model(domain)
            f = self._fixed_features.get(domain) if features_fixed else None
            if f is None:
                f = extract_features(module, dataset, ctx.preprocess, 128, fabric)
                if features_fixed:
                    self._fixed_features[domain] = f
            logits = []
            for chunk in torch.split(f, 512):
                with fabric.autocast():
                    logits.append(module.forward_head(fabric.to_device(chunk)).float().argmax(1).cpu())
            features.append(f.numpy())
            preds.append(torch.cat(logits).numpy() if logits else np.zeros(0, np.int64))
        strategy.train(was_training)
        f = np.concatenate(features)
        self._last_pca = pca_layout(f, self._last_pca)
        snapshot = {"epoch": epoch, "time": time.time(), "pred": np.concatenate(preds).astype(int).tolist(),
                    "pca": np.round(self._last_pca, 3).tolist(), "umap": None, "gap": None,
                    "features_seconds": round(time.perf_counter() - t0, 3)}
        write_snapshot(self.folder, snapshot, f)
        return snapshot

    def close(self) -> None:
        """No more snapshots: the layout process finishes what is pending, then exits."""
        if not is_done(self.folder):
            (self.folder / "done").write_text("")
