"""Speed of the training path against the plain way, as ratios measured side by side in one
process: the trainer vs the torchvision tutorial's loop, the feature cache, and the data
pipeline from encoded files to the forward pass."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from tlcore.config import DataConfig, FeatureMapConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig

from .suite import section

SIZE = 64
# The device both loops of speed-trainer and speed-real run on: benchmarks/gpu_check.sh sets
# cuda (the trainer then picks its own autocast and layout; the tutorial loop stays fp32).
DEVICE = os.environ.get("TLSTUDIO_BENCH_DEVICE", "cpu")


def write_image_folder(root: Path, domain: str, per_class: int, seed: int = 0, ext: str = "png") -> Path:
    """``root/{train,val,test}/<class>/<i>.png`` from a built-in domain, 70/15/15 per class:
    encoded files on disk, as a user's data arrives."""
    from PIL import Image

    from tlcore.data import load_domain
    images = load_domain(domain, per_class=per_class, seed=seed)
    rng = np.random.default_rng(seed)
    for c, name in enumerate(images.class_names):
        idx = rng.permutation(np.flatnonzero(images.labels == c))
        n_val = n_test = max(1, round(0.15 * len(idx)))
        for split, part in (("test", idx[:n_test]), ("val", idx[n_test:n_test + n_val]),
                            ("train", idx[n_test + n_val:])):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in part:
                Image.fromarray(images.images[i]).save(folder / f"{i}.{ext}")
    return root


# ---- TL Studio's trainer vs the torchvision transfer-learning tutorial's loop

def tutorial_loop(root: Path, freeze: str, epochs: int, seed: int, size: int = SIZE) -> dict:
    """The tutorial's recipe (pytorch.org/tutorials/beginner/transfer_learning_tutorial):
    ImageFolder + transforms decoding every image every epoch, the whole network run on every
    batch in fp32, train and val phases each epoch. Same model, weights, trainable stages,
    optimiser, batch and seed as the TL Studio run it is compared with."""
    from torchvision import datasets, transforms

    from tlcore.backbones import create_backbone
    from tlcore.freezing import apply_freeze
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                             transforms.Normalize([0.5] * 3, [0.5] * 3)])
    sets = {p: datasets.ImageFolder(root / p, tf) for p in ("train", "val", "test")}
    loaders = {p: torch.utils.data.DataLoader(d, batch_size=32, shuffle=p == "train", num_workers=0)
               for p, d in sets.items()}
    model = create_backbone("efficientnet_lite0", "imagenet", num_classes=len(sets["train"].classes)).to(DEVICE)
    apply_freeze(model, freeze, "update")  # the tutorial's requires_grad=False; BN statistics still move
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3, weight_decay=1e-4)
    curve = []

    def accuracy(phase):
        model.eval()
        right = 0
        with torch.no_grad():
            for x, y in loaders[phase]:
                right += int((model(x.to(DEVICE)).argmax(1).cpu() == y).sum())
        return right / len(sets[phase])

    for _ in range(epochs):
        model.train()
        for x, y in loaders["train"]:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x.to(DEVICE)), y.to(DEVICE))
            loss.backward()
            opt.step()
        curve.append((time.perf_counter() - t0, accuracy("val")))
    return {"curve": curve, "test_acc": accuracy("test"), "total_s": time.perf_counter() - t0}


def tlstudio_run(root: Path, freeze: str, epochs: int, seed: int, size: int = SIZE) -> dict:
    from tlcore.train import EpochEnded, train
    config = RunConfig(data=DataConfig(target=str(root), image_size=size),
                       model=ModelConfig(freeze=freeze), optim=OptimConfig(lr=1e-3),
                       schedule=ScheduleConfig(epochs=epochs, scheduler="constant"),
                       feature_map=FeatureMapConfig(every=0), batch_size=32, seed=seed, device=DEVICE)
    curve, t0 = [], time.perf_counter()

    def on_event(event):
        if isinstance(event, EpochEnded) and "target.val.accuracy" in event.metrics:
            curve.append((time.perf_counter() - t0, event.metrics["target.val.accuracy"]))

    s = train(config, [on_event]).summary
    return {"curve": curve, "test_acc": s["target.test.accuracy"], "total_s": time.perf_counter() - t0,
            "cached": s["feature_cache"], "precision": s["precision"], "memory_format": s.get("memory_format"),
            "trunk_cache": s.get("trunk_cache"), "train_s": s["train_time_s"]}


def time_to(curve, accuracy: float) -> float | None:
    return next((t for t, a in curve if a >= accuracy - 1e-9), None)


@section("speed-trainer", "Trainer vs the plain PyTorch recipe", quick_budget_s=90)
def run_trainer(mode: str, jobs: int, log) -> dict:
    per_class, epochs = (40, 4) if mode == "quick" else (100, 10)
    rows, raw = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        root = write_image_folder(Path(tmp) / "syndigits", "syndigits", per_class)
        for label, freeze in (("frozen backbone (linear probe)", "all"), ("last stage fine-tuned", "last:1")):
            ours = tlstudio_run(root, freeze, epochs, 0)
            plain = tutorial_loop(root, freeze, epochs, 0)
            goal = min(ours["curve"][-1][1], plain["curve"][-1][1])  # the accuracy both runs reach
            t_ours, t_plain = time_to(ours["curve"], goal), time_to(plain["curve"], goal)
            raw[freeze] = {"tlstudio": ours, "plain": plain, "common_val_accuracy": goal}
            log(f"  {label}: TL Studio {ours['total_s']:.1f} s, plain {plain['total_s']:.1f} s")
            rows.append([label, f"{100 * goal:.1f}", f"{t_ours:.1f} s", f"{t_plain:.1f} s",
                         f"**{t_plain / t_ours:.1f}x**", f"{ours['total_s']:.1f} s / {plain['total_s']:.1f} s",
                         f"{100 * ours['test_acc']:.1f} / {100 * plain['test_acc']:.1f}"])
    return {"tables": [{"title": f"syndigits as PNG files ({per_class} a class, 70/15/15 split folders), "
                                 f"efficientnet_lite0 ImageNet, {SIZE} px, AdamW 1e-3, batch 32, {epochs} epochs, "
                                 "seed 0, both fp32 on the CPU",
                        "columns": ["backbone", "val acc. both reach (%)", "TL Studio: time to it",
                                    "plain recipe: time to it", "speed-up", f"all {epochs} epochs (ours / plain)",
                                    "test acc. (ours / plain, %)"], "rows": rows}],
            "notes": ["Times run from the start of each call (data loading and model creation included) to the end "
                      "of the first epoch whose validation accuracy reaches the lower of the two final ones. "
                      "TL Studio also evaluates the test split every epoch and fits the before-transfer probe; "
                      "the plain loop evaluates only the validation split."],
            "raw": raw}


# ---- the feature cache

@section("speed-cache", "Feature cache: 20 frozen-backbone epochs vs one extraction", quick_budget_s=60)
def run_cache(mode: str, jobs: int, log) -> dict:
    from .feature_cache import measure
    size = 64 if mode == "quick" else 160
    r = measure(img_size=size, epochs=20)
    row = [f"{r['images']} images, {size} px", f"{r['extract_s']:.2f} s", f"{r['cached_epochs_s']:.2f} s",
           f"{r['uncached_epochs_s']:.1f} s", f"**{r['cached_over_one_extraction']:.2f}x** (goal ≤ 1.5x)",
           f"{r['uncached_over_cached']:.1f}x",
           f"{100 * r['cached_test_accuracy']:.1f} / {100 * r['uncached_test_accuracy']:.1f}"]
    return {"tables": [{"title": "syndigits, efficientnet_lite0 ImageNet, every stage frozen, batch 32, "
                                 f"{r['precision']}, {r['device']}",
                        "columns": ["data", "one extraction", "cached: 20 epochs", "uncached: 20 epochs",
                                    "cached total / one extraction", "uncached / cached",
                                    "test acc. cached / uncached"],
                        "rows": [row]}], "raw": r}


# ---- the data pipeline

@section("speed-pipeline", "Data pipeline: encoded files to forward pass vs forward alone", quick_budget_s=60)
def run_pipeline(mode: str, jobs: int, log) -> dict:
    from torchvision import datasets, transforms

    from tlcore.backbones import backbone_info, create_backbone
    from tlcore.data import load_image_set
    from tlcore.data.pipeline import BatchPreprocess, ResizedImages, stacked_batches
    per_class, batch, rows, raw = (3, 32, [], {}) if mode == "quick" else (8, 32, [], {})
    with tempfile.TemporaryDirectory() as tmp:
        root = write_image_folder(Path(tmp) / "clipart", "clipart", per_class * 4, ext="jpg")
        n_files = sum(1 for _ in root.rglob("*.jpg"))
        for name, size in (("resnet18", 160), ("efficientnet_lite0", 160)):
            info = backbone_info(name)
            model = create_backbone(name, "none", num_classes=9).eval()
            ready = torch.randn(n_files, 3, size, size)

            def raw_forward():
                with torch.no_grad():
                    for x in torch.split(ready, batch):
                        model(x)

            def ours():  # ingest (decode, validate) -> resize -> normalise -> forward
                images = load_image_set(root)
                ds, pre = ResizedImages(images, size, np.arange(len(images))), BatchPreprocess(info.mean, info.std)
                with torch.no_grad():
                    for x, _ in stacked_batches(ds, batch):
                        model(pre(x))

            def plain():  # ImageFolder + DataLoader, decoding each file in the loop
                tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                                         transforms.Normalize(info.mean, info.std)])
                loader = torch.utils.data.DataLoader(datasets.ImageFolder(root / "train", tf), batch_size=batch)
                loader_v = torch.utils.data.DataLoader(datasets.ImageFolder(root / "val", tf), batch_size=batch)
                loader_t = torch.utils.data.DataLoader(datasets.ImageFolder(root / "test", tf), batch_size=batch)
                with torch.no_grad():
                    for part in (loader, loader_v, loader_t):
                        for x, _ in part:
                            model(x)

            raw_forward()  # warm-up
            t = {}
            for label, fn in (("raw", raw_forward), ("ours", ours), ("plain", plain)) * 2:
                t0 = time.perf_counter()
                fn()
                t[label] = min(t.get(label, 1e9), time.perf_counter() - t0)  # best of two, interleaved
            raw[name] = {"images": n_files, **{k: round(v, 3) for k, v in t.items()}}
            rows.append([f"{name}, {size} px", n_files, f"{n_files / t['raw']:.1f}", f"{n_files / t['ours']:.1f}",
                         f"**{t['raw'] / t['ours']:.2f}** (goal ≥ 0.85)", f"{n_files / t['plain']:.1f}",
                         f"{t['raw'] / t['plain']:.2f}"])
    return {"tables": [{"title": f"clipart JPEG files (128 px), batch {batch}, inference, best of 2 interleaved",
                        "columns": ["model", "images", "raw forward img/s", "TL Studio end-to-end img/s",
                                    "ours / raw", "ImageFolder + DataLoader img/s", "plain / raw"],
                        "rows": rows}], "raw": raw}
