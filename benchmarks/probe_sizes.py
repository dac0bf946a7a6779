"""The optimal linear head at several input sizes: how much a pretrained network's frozen
features gain when the images are resized nearer the size it was trained at.

    python -m benchmarks.probe_sizes [--sizes 48,64,96] [--threads 2]

The transfer grid's data (Fashion-MNIST, 200 images a class loaded, and clip art; 5, 10 and
30 labelled images a class; seeds 0-2), the ImageNet efficientnet_lite0, the same head the
before-transfer probe and a frozen-backbone run fit (tlcore.features.fit_linear_head: L2
chosen on target val). Prints val and test accuracy per cell and size. This is why the
recipe search tries the linear head and LP-FT at twice the chosen size (BENCHMARKS.md,
"Recipe search and the optimal linear head").
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from tlcore.backbones import create_backbone
from tlcore.config import DataConfig, RunConfig
from tlcore.data.pipeline import ResizedImages
from tlcore.data.run_data import prepare_data
from tlcore.features import extract_features, fit_linear_head

from .transfer import PER_CLASS


def head_scores(backbone, dataset: str, shots: int, size: int, seed: int) -> tuple[float, float]:
    """(val, test) accuracy of the optimal linear head on ``size``-px features."""
    config = RunConfig(data=DataConfig(target=dataset, target_labels_per_class=shots, image_size=size,
                                       per_class=PER_CLASS.get(dataset)), seed=seed)
    data = prepare_data(config)
    splits = {"train": data.target_labelled, "val": data.target_index("val"), "test": data.target_index("test")}
    features = {}
    for split, index in splits.items():
        images = ResizedImages(data.target, size, index)
        features[split] = (extract_features(backbone, images).numpy(), images.labels)
    head = fit_linear_head(*features["train"], *features["val"], len(data.class_names)).head
    return tuple(float((head.predict(features[s][0]) == features[s][1]).mean()) for s in ("val", "test"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="48,64,96")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    backbone = create_backbone("efficientnet_lite0", "imagenet")
    print("| data | labels/class | size | val accuracy | test accuracy | seconds |\n|---|---|---|---|---|---|")
    for dataset in ("fashion", "clipart"):
        for shots in (5, 10, 30):
            for size in map(int, args.sizes.split(",")):
                started = time.perf_counter()
                scores = 100 * np.array([head_scores(backbone, dataset, shots, size, seed) for seed in (0, 1, 2)])
                print(f"| {dataset} | {shots} | {size} px | {scores[:, 0].mean():.1f} | {scores[:, 1].mean():.1f} ± "
                      f"{scores[:, 1].std(ddof=1):.1f} | {time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()
