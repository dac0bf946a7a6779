"""The feature map before any training: the chosen backbone, as it comes, on a probe of the
chosen source and target, so a user sees how far apart the domains are and whether the
classes already separate before deciding how to train.

A heavy background job (tlcore.jobs): ``start_pretrained_map`` starts
``python -m tlcore.embed.pretrained FOLDER``, which writes the same files a run's snapshot
does (tlcore.embed.snapshots, epoch 0) and lays them out itself; the dashboard polls the
folder and never waits for it.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ..config import DEFAULT_BACKBONE
from ..data.pipeline import ResizedImages
from ..data.run_data import RunData, prepare_data
from ..data.thumbnails import thumbnails
from ..features import extract_features
from ..jobs import JobHandle, JobKind, JobState, job_main, register_job_kind, start_job
from .gap import domain_gap
from .layout import pca_layout
from .probe import probe_record, probe_sets
from .snapshots import write_probe, write_snapshot

KIND = register_job_kind(JobKind(
    "pretrained-map", "tlcore.embed.pretrained", "the feature map of a backbone before training", heavy=True,
    threads=1, folder="maps", result="done"))


def pretrained_probe(data, backbone: str, weights: str, image_size: int, per_domain: int, seed: int):
    """(probe parts, features in probe order) of RunData ``data`` under the untrained backbone."""
    from ..backbones import create_backbone
    model = create_backbone(backbone, weights, num_classes=None).eval()
    parts = probe_sets(data, per_domain, seed)
    features = [extract_features(model, ResizedImages(images, image_size, index, labels)).numpy()
                for _, images, index, labels in parts]
    return parts, np.concatenate(features)


def pretrained_gap(source, target, backbone: str = DEFAULT_BACKBONE, weights: str = "imagenet",
                   per_domain: int = 300, image_size: int = 64, seed: int = 0) -> dict[str, float]:
    """The domain-gap numbers of two ImageSets as the untrained backbone sees them."""
    index = {name: i for i, name in enumerate(target.class_names)}
    source_labels = np.array([index.get(source.class_names[y], -1) for y in source.labels], dtype=np.int64)
    data = RunData(target, source, target.class_names, source_labels, np.zeros(0, np.int64), [])
    parts, f = pretrained_probe(data, backbone, weights, image_size, per_domain, seed)
    n_t = len(parts[0][2])
    return domain_gap(f[n_t:], parts[1][3], f[:n_t], parts[0][3], seed)


def start_pretrained_map(runs_root: str | Path, target: str, source: str | None, backbone: str, weights: str,
                         image_size: int, per_class: int | None, per_domain: int = 1000, seed: int = 0) -> JobHandle:
    """The job of this pretrained map under the runs folder (RUNS/maps/KEY); started unless
    it is there or on its way: a map is computed once per choice of data and model."""
    spec = dict(target=target, source=source, backbone=backbone, weights=weights, image_size=image_size,
                per_class=per_class, per_domain=per_domain, seed=seed)
    return start_job(KIND.name, runs_root, spec)


def map_state(folder: str | Path) -> JobState:
    """(ready | running | failed | missing, what it is doing or why it failed, fraction)."""
    return JobHandle(folder, KIND.name).state()


def _work(job) -> None:
    from ..config import DataConfig, RunConfig
    from .layout import process_pending, warm_up
    spec, folder, t0 = job.spec, job.folder, time.perf_counter()
    job.progress(0.1, "computing features")
    config = RunConfig(data=DataConfig(target=spec["target"], source=spec["source"], per_class=spec["per_class"],
                                       target_labels_per_class=0), seed=spec["seed"])
    data = prepare_data(config, uses_target_labels_by_default=False)
    parts, features = pretrained_probe(data, spec["backbone"], spec["weights"], spec["image_size"],
                                       spec["per_domain"], spec["seed"])
    write_probe(folder, probe_record(parts, data.class_names, image_size=spec["image_size"],
                                     backbone=spec["backbone"], per_domain=spec["per_domain"]),
                np.concatenate([thumbnails(s, i) for _, s, i, _ in parts]))
    pred = [-1] * len(features)  # no classifier yet: nothing is predicted
    write_snapshot(folder, {"epoch": 0, "time": time.time(), "pred": pred,
                            "pca": np.round(pca_layout(features), 3).tolist(), "umap": None, "gap": None,
                            "features_seconds": round(time.perf_counter() - t0, 3)}, features)
    print(f"pretrained map: {len(features)} points in {time.perf_counter() - t0:.1f} s", flush=True)
    job.progress(0.6, "UMAP layout on its way")
    print(f"layout: numba warm in {warm_up():.1f} s", flush=True)
    process_pending(folder)
    (folder / "done").write_text("")  # the snapshot folder's end, and the job's result


def main(argv=None) -> int:
    from ..backbones import WeightsError
    from ..data import IngestError
    from ..registry import UnknownNameError
    return job_main(argv, _work, expected=(IngestError, WeightsError, UnknownNameError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
