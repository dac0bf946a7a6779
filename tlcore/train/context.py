"""Everything a run needs besides the loop: validated config, data sets, model, features."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ..backbones import backbone_info, create_backbone
from ..config import HEAD_SOLVERS, RunConfig
from ..data import is_domain, list_domains
from ..data.pipeline import BALANCE_MODES, BatchPreprocess, ResizedImages
from ..data.run_data import RunData, prepare_data
from ..devices import MEMORY_FORMATS, cpu_supports_bf16, resolve_device
from ..features import LinearFit, extract_features, feature_dataset, fit_linear_head
from ..freezing import parse_freeze_spec
from ..registry import UnknownNameError
from ..strategies import create_strategy, strategy_info
from .optim import list_optimizers, list_schedules
from .trunk import TrunkCache, trunk_active


class ConfigError(ValueError):
    """A run configuration that cannot run; the message lists the valid choices."""


def validate_config(config: RunConfig) -> list[str]:
    """Raise ConfigError for a config that cannot run; return warnings for a dubious one."""
    try:
        stage_names = list(backbone_info(config.model.backbone).stage_names)
        info = strategy_info(config.strategy.name)
    except UnknownNameError as exc:
        raise ConfigError(str(exc)) from None
    unknown = sorted(set(config.strategy.params) - set(info.defaults))
    if unknown:
        raise ConfigError(f"unknown parameters for strategy {info.name!r}: {', '.join(unknown)}; "
                          f"valid: {', '.join(info.defaults) or 'none'}")
    try:
        parse_freeze_spec(config.model.freeze, stage_names)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for role, spec in (("target", config.data.target), ("source", config.data.source)):
        if spec and not is_domain(spec) and not Path(spec).exists():
            raise ConfigError(f"{role} {spec!r} is neither a built-in domain ({', '.join(list_domains())}) "
                              "nor an existing folder or zip")
    if info.needs_source and not config.data.source:
        raise ConfigError(f"strategy {info.name!r} needs a labelled source data set (--source)")
    if info.needs_target_labels and config.data.target_labels_per_class == 0:
        raise ConfigError(f"strategy {info.name!r} needs labelled target images; "
                          "target_labels_per_class is 0")
    checks = [
        (config.data.image_size is not None and config.data.image_size < 8, "image size must be at least 8 px"),
        (config.schedule.epochs < 1, "epochs must be at least 1"),
        (config.schedule.eval_every < 1, "eval_every must be at least 1"),
        (config.schedule.stop_after_epochs < 0, "stop_after_epochs must be 0 (off) or more"),
        (config.batch_size < 2, "batch size must be at least 2"),
        (config.optim.lr <= 0, "learning rate must be positive"),
        (config.optim.name not in list_optimizers(),
         f"unknown optimiser {config.optim.name!r}; valid: {', '.join(list_optimizers())}"),
        (config.schedule.scheduler not in list_schedules(),
         f"unknown scheduler {config.schedule.scheduler!r}; valid: {', '.join(list_schedules())}"),
        (config.devices < 1, "devices must be at least 1"),
        (config.data.balance not in BALANCE_MODES,
         f"unknown balance {config.data.balance!r}; valid: {', '.join(BALANCE_MODES)}"),
        (config.memory_format not in MEMORY_FORMATS,
         f"unknown memory format {config.memory_format!r}; valid: {', '.join(MEMORY_FORMATS)}"),
        (config.optim.head_solver not in HEAD_SOLVERS,
         f"unknown head solver {config.optim.head_solver!r}; valid: {', '.join(HEAD_SOLVERS)}"),
    ]
    for bad, message in checks:
        if bad:
            raise ConfigError(message)
    warnings = []
    if config.precision == "bf16" and resolve_device(config.device) == "cpu" and not cpu_supports_bf16():
        warnings.append("bf16 was asked for, but this CPU has no native bf16 instructions: it will be emulated "
                        "and likely slower than fp32")
    if info.uses_unlabelled_target and config.model.freeze == "all" and not info.cacheable:
        warnings.append(f"{info.name} aligns features, but every backbone stage is frozen: the alignment "
                        "cannot change them. Unfreeze at least the last stage (e.g. --freeze last:2 or none).")
    return warnings


class TrainContext:
    """Data sets of a run (as resized images or cached features) and the initial features."""

    def __init__(self, config: RunConfig, fabric):
        self.config = config
        self.fabric = fabric
        self.warnings = validate_config(config)
        self.strategy_info = strategy_info(config.strategy.name)
        self.data: RunData = prepare_data(config, self.strategy_info.needs_target_labels)
        self.warnings += self.data.warnings
        info = backbone_info(config.model.backbone)
        self.image_size = config.data.image_size or info.input_size
        backbone = create_backbone(config.model.backbone, config.model.weights,
                                   num_classes=len(self.data.class_names))
        self.strategy = create_strategy(config.strategy.name, backbone, len(self.data.class_names),
                                        config.strategy.params, config.model.freeze, config.model.bn_policy)
        self.preprocess = BatchPreprocess(info.mean, info.std, config.data.augment).to(fabric.device)
        self._datasets: dict[str, ResizedImages] = {}
        # While the frozen-trunk cache is active (tlcore.train.trunk), the splits are its outputs.
        self.inputs_override: dict | None = None
        self.trunk: TrunkCache | None = None  # set by the loop
        # The network as it was before the first step (keep_initial_model): the before-transfer
        # probe and the first feature map read it after training has started.
        self.initial_model = None
        self._features: dict = {}  # split name, or (split name, views) for training_features
        self._linear_fits: dict[tuple, LinearFit | None] = {}

    # ---- data sets by name: target_labelled, target_unlabelled, target_val, target_test,
    #      source_train, source_val, source_test
    def dataset(self, which: str) -> ResizedImages:
        if self.inputs_override is not None:
            return self.inputs_override[which]  # a split the cache lacks is a bug: fail loudly
        if which not in self._datasets:
            d = self.data
            if which == "target_labelled":
                ds = ResizedImages(d.target, self.image_size, d.target_labelled)
            elif which.startswith("target_"):
                split = {"target_unlabelled": "train", "target_val": "val", "target_test": "test"}[which]
                ds = ResizedImages(d.target, self.image_size, d.target_index(split))
            else:
                idx = d.source_index(which.split("_", 1)[1])
                ds = ResizedImages(d.source, self.image_size, idx, d.source_labels[idx])
            self._datasets[which] = ds
        return self._datasets[which]

    def has(self, which: str) -> bool:
        if which.startswith("source") and self.data.source is None:
            return False
        return len(self.dataset(which)) > 0

    def source_ids(self, split: str) -> list[str]:
        return [self.data.source.ids[i] for i in self.data.source_index(split)]

    def initial_features(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """Features of the untrained (pretrained or random) backbone, computed once."""
        f = self.feature_tensor(which)
        return f.numpy(), self.dataset(which).labels

    def feature_tensor(self, which: str) -> torch.Tensor:
        if which not in self._features:
            # From the frozen trunk's cached output where there is one: the same features, cheaper.
            model = self.initial_model or self.strategy.backbone
            cached = self.trunk is not None and len(self.trunk.datasets.get(which, ())) > 0
            with trunk_active(self, model, self.trunk, on=cached):
                self._features[which] = extract_features(model, self.dataset(which), self.preprocess,
                                                         max(self.config.batch_size, 64), self.fabric)
        return self._features[which]

    def keep_initial_model(self) -> None:
        """A copy of the backbone as it is now, before the first step: what "initial features"
        are computed with from then on, so they need not be computed before training starts."""
        import copy
        self.initial_model = copy.deepcopy(self.strategy.backbone).eval()
        for p in self.initial_model.parameters():
            p.requires_grad_(False)

    def training_features(self, which: str) -> tuple[torch.Tensor, np.ndarray]:
        """The feature cache of a training split: its plain features, and with augmentation
        on, config.cache_views - 1 augmented views of every image too (labels repeated)."""
        views = 1 if self.config.data.augment == "none" else max(1, self.config.cache_views)
        if (which, views) not in self._features:
            dataset, augment = self.dataset(which), lambda x: self.preprocess(x, train=True)
            extra = [extract_features(self.strategy.backbone, dataset, augment, max(self.config.batch_size, 64),
                                      self.fabric) for _ in range(views - 1)]
            self._features[(which, views)] = torch.cat([self.feature_tensor(which), *extra])
        return self._features[(which, views)], np.tile(self.dataset(which).labels, views)

    def cached_training_set(self, which: str) -> TensorDataset:
        features, labels = self.training_features(which)
        return TensorDataset(features, torch.as_tensor(labels), torch.arange(len(labels)) % len(self.dataset(which)))

    def linear_fit(self, splits: tuple[str, ...], augmented: bool = False) -> LinearFit | None:
        """The optimal linear head on the untrained network's features of ``splits`` (their
        labels), its L2 strength chosen on target_val (source_val without target labels);
        computed once per run and shared by the before-transfer probe, a frozen-backbone run's
        head and LP-FT's starting head, so they agree. ``augmented``: on the feature cache's
        augmented views. None when the splits hold fewer than two classes."""
        key = (splits, augmented)
        if key not in self._linear_fits:
            parts = [self._numpy(*self.training_features(s)) if augmented else self.initial_features(s)
                     for s in splits if self.has(s)]
            f = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, 1))
            y = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
            # Without target labels the L2 strength is chosen on the source val split: the
            # target's val labels are the user's evaluation, not theirs to train on.
            val_split = "target_val" if len(self.data.target_labelled) else "source_val"
            val = self.initial_features(val_split) if self.has(val_split) else (None, None)
            self._linear_fits[key] = fit_linear_head(f, y, *val, len(self.data.class_names)) \
                if len(np.unique(y)) >= 2 else None
        return self._linear_fits[key]

    @staticmethod
    def _numpy(features: torch.Tensor, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return features.numpy(), labels

    def cached_dataset(self, which: str):
        return feature_dataset(self.feature_tensor(which), self.dataset(which))
