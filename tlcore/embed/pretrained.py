"""The feature map before any training: the chosen backbone, as it comes, on a probe of the
chosen source and target, so a user sees how far apart the domains are and whether the
classes already separate before deciding how to train.

``python -m tlcore.embed.pretrained FOLDER --target T [--source S] ...`` writes the same
files a run's snapshot does (tlcore.embed.snapshots, epoch 0) and lays them out itself;
the dashboard starts it with ``start_pretrained_map`` and never waits for it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..data.pipeline import ResizedImages
from ..data.run_data import RunData, prepare_data
from ..data.thumbnails import thumbnails
from ..features import extract_features
from .gap import domain_gap
from .layout import pca_layout
from .probe import probe_record, probe_sets
from .snapshots import read_snapshot, write_probe, write_snapshot


def pretrained_probe(data, backbone: str, weights: str, image_size: int, per_domain: int, seed: int):
    """(probe parts, features in probe order) of RunData ``data`` under the untrained backbone."""
    from ..backbones import create_backbone
    model = create_backbone(backbone, weights, num_classes=None).eval()
    parts = probe_sets(data, per_domain, seed)
    features = [extract_features(model, ResizedImages(images, image_size, index, labels)).numpy()
                for _, images, index, labels in parts]
    return parts, np.concatenate(features)


def pretrained_gap(source, target, backbone: str = "efficientnet_lite0", weights: str = "imagenet",
                   per_domain: int = 300, image_size: int = 64, seed: int = 0) -> dict[str, float]:
    """The domain-gap numbers of two ImageSets as the untrained backbone sees them."""
    index = {name: i for i, name in enumerate(target.class_names)}
    source_labels = np.array([index.get(source.class_names[y], -1) for y in source.labels], dtype=np.int64)
    data = RunData(target, source, target.class_names, source_labels, np.zeros(0, np.int64), [])
    parts, f = pretrained_probe(data, backbone, weights, image_size, per_domain, seed)
    n_t = len(parts[0][2])
    return domain_gap(f[n_t:], parts[1][3], f[:n_t], parts[0][3], seed)


def map_key(**spec) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def start_pretrained_map(root: Path, target: str, source: str | None, backbone: str, weights: str,
                         image_size: int, per_class: int | None, per_domain: int = 1000, seed: int = 0) -> Path:
    """The folder of this pretrained map under ``root``; starts the job that fills it unless
    it is already there or on its way (a map is computed once per choice of data and model)."""
    spec = dict(target=target, source=source, backbone=backbone, weights=weights, image_size=image_size,
                per_class=per_class, per_domain=per_domain, seed=seed)
    folder = Path(root) / map_key(**spec)
    if map_state(folder)[0] in ("ready", "running"):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.json").write_text(json.dumps(spec))
    args = [sys.executable, "-m", "tlcore.embed.pretrained", str(folder), "--target", target,
            "--backbone", backbone, "--weights", weights, "--image-size", str(image_size),
            "--per-domain", str(per_domain), "--seed", str(seed)]
    args += ["--source", source] if source else []
    args += ["--per-class", str(per_class)] if per_class else []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    with open(folder / "layout.log", "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    (folder / "pid").write_text(str(proc.pid))
    return folder


def map_state(folder: Path) -> tuple[str, str]:
    """('ready' | 'running' | 'failed' | 'missing', detail) of a pretrained map folder."""
    folder = Path(folder)
    snap = read_snapshot(folder, 0)
    if snap is not None and snap.get("umap") is not None:
        return "ready", ""
    try:
        pid = int((folder / "pid").read_text())
    except (OSError, ValueError):
        return "missing", ""
    from ..runs.jobs import pid_alive
    if pid_alive(pid):
        return "running", "UMAP layout on its way" if snap is not None else "computing features"
    try:
        tail = (folder / "layout.log").read_text(errors="replace").strip().splitlines()[-1:]
    except OSError:
        tail = []
    return "failed", tail[0] if tail else "the map job ended without a result"


def main(argv=None) -> int:
    from ..config import DataConfig, RunConfig
    parser = argparse.ArgumentParser(prog="python -m tlcore.embed.pretrained")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--target", required=True)
    parser.add_argument("--source")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--weights", default="imagenet")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--per-class", type=int)
    parser.add_argument("--per-domain", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    config = RunConfig(data=DataConfig(target=args.target, source=args.source, per_class=args.per_class,
                                       target_labels_per_class=0), seed=args.seed)
    data = prepare_data(config, uses_target_labels_by_default=False)
    parts, features = pretrained_probe(data, args.backbone, args.weights, args.image_size, args.per_domain,
                                       args.seed)
    write_probe(args.folder, probe_record(parts, data.class_names, image_size=args.image_size,
                                          backbone=args.backbone, per_domain=args.per_domain),
                np.concatenate([thumbnails(s, i) for _, s, i, _ in parts]))
    pred = [-1] * len(features)  # no classifier yet: nothing is predicted
    write_snapshot(args.folder, {"epoch": 0, "time": time.time(), "pred": pred,
                                 "pca": np.round(pca_layout(features), 3).tolist(), "umap": None, "gap": None,
                                 "features_seconds": round(time.perf_counter() - t0, 3)}, features)
    print(f"pretrained map: {len(features)} points in {time.perf_counter() - t0:.1f} s", flush=True)
    from .layout import process_pending, warm_up
    print(f"layout: numba warm in {warm_up():.1f} s", flush=True)
    process_pending(args.folder)
    (args.folder / "done").write_text("")
    return 0


if __name__ == "__main__":
    sys.exit(main())
