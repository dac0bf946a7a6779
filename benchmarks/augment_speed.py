"""Augmentation speed: tlcore's per-sample torchvision.transforms.v2 presets against the same
presets built from kornia's batched transforms, side by side in one process.

    python benchmarks/augment_speed.py [--rounds 30] [--batch 32] [--sizes 64 128] [--threads N]

What is timed, for each preset and size: one batch of uint8 (N, 3, S, S) images from the
built-in syndigits domain (decoded and resized once, as ResizedImages does) turned into an
augmented float batch in [0, 1] on the CPU, what BatchPreprocess does before normalising.
torchvision: ``tlcore.data.augment.augment_batch`` (one transform call per image, since v2
draws one set of parameters per call, with torch at one intra-op thread meanwhile), then
``/ 255``; "torchvision, all threads": the same transforms without that one-thread limit.
kornia: ``/ 255``, then one call on the whole batch (kornia draws per-sample parameters
itself). The implementations alternate within each round and the medians over the rounds
are compared, so a busy machine slows them alike. Ratio > 1: kornia is slower. kornia is
optional: without it, it is left out.

Not the same augmentation in every detail: kornia's TrivialAugment picks ONE operation per
batch call (with per-sample magnitudes), tlcore's one per image; kornia's RandomCrop pads
with "replicate", as torchvision's "edge".
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the repository root

from tlcore.data import load_domain  # noqa: E402
from tlcore.data.augment import CROP_SCALE, _transform, augment_batch  # noqa: E402
from tlcore.data.pipeline import ResizedImages  # noqa: E402

PRESETS = ("light", "standard", "strong")


def kornia_presets(size: int) -> dict | None:
    """The presets as kornia modules on float batches, or None without kornia."""
    try:
        import kornia.augmentation as K
        from kornia.augmentation.auto import TrivialAugment
    except ImportError:
        return None
    crop_flip = [K.RandomResizedCrop((size, size), scale=CROP_SCALE), K.RandomHorizontalFlip()]
    return {
        "light": torch.nn.Sequential(K.RandomCrop((size, size), padding=max(1, size // 8),
                                                  padding_mode="replicate"),
                                     K.ColorJitter(brightness=0.1, p=1.0)),
        "standard": torch.nn.Sequential(*crop_flip, K.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.2,
                                                                  p=1.0)),
        "strong": torch.nn.Sequential(*crop_flip, TrivialAugment()),
    }


def batch_of(size: int, batch: int) -> torch.Tensor:
    images = load_domain("syndigits", per_class=max(1, batch // 10 + 1), seed=0)
    ds = ResizedImages(images, size, np.arange(batch))
    return torch.stack([ds[i][0] for i in range(batch)])


def median_ms(fns: dict, rounds: int) -> dict[str, float]:
    """Median wall time of each function, the functions taking turns in every round."""
    for fn in fns.values():  # warm-up: lazy imports, cached transforms, allocator
        fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


def measure(sizes, batch: int, rounds: int) -> list[list[str]]:
    rows = []
    for size in sizes:
        x = batch_of(size, batch)
        kornia = kornia_presets(size)
        for preset in PRESETS:
            transform = _transform(preset, size, size)
            fns = {"torchvision": lambda: augment_batch(x, preset).float().div_(255),
                   "all threads": lambda: torch.stack([transform(im) for im in x]).float().div_(255)}
            if kornia is not None:
                fns["kornia"] = lambda: kornia[preset](x.float().div_(255))
            ms = median_ms(fns, rounds)
            k = ms.get("kornia")
            rows.append([preset, f"{size} px", f"{ms['torchvision']:.1f} ms", f"{ms['all threads']:.1f} ms",
                         "-" if k is None else f"{k:.1f} ms",
                         "-" if k is None else f"{k / ms['torchvision']:.2f}x"])
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        import kornia
        kornia_version = kornia.__version__
    except ImportError:
        kornia_version = "not installed"
    import torchvision
    rows = measure(args.sizes, args.batch, args.rounds)
    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, torchvision {torchvision.__version__}, kornia {kornia_version}; "
          f"batch {args.batch}, median of {args.rounds} alternating rounds\n")
    print("| preset | size | torchvision v2 (per sample) | torchvision, all threads | kornia (batched) "
          "| kornia / torchvision |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
