"""The one training loop. Every strategy runs through it; it reports through events."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from ..config import RunConfig, record_environment
from ..embed.probe import FeatureSnapshots
from ..devices import fabric_precision, resolve_device, resolve_precision
from ..freezing import param_groups, stage_lr_multipliers
from ..metrics import SCALARS, classification_metrics
from .checkpoint import load_checkpoint, save_checkpoint
from .context import TrainContext
from ..data.pipeline import TensorBatches, make_loader, stacked_batches
from .gallery import save_test_gallery, save_test_predictions, write_artifacts
from .events import EpochEnded, EpochStarted, LogMessage, RunEnded, RunStarted, StepEnded
from ..features import linear_probe

BATCH_KEYS = {"src": "source_train", "tgt": "target_labelled", "tgt_u": "target_unlabelled"}


@dataclass
class TrainResult:
    status: str  # finished | stopped | failed
    summary: dict
    out_dir: Path | None
    strategy: torch.nn.Module
    history: list[dict] = field(default_factory=list)
    is_global_zero: bool = True  # False in the other processes of a multi-device run

    @property
    def model(self) -> torch.nn.Module:
        """The trained network that maps target images (normalised, N x 3 x S x S) to logits,
        in eval mode; its weights are the run's last epoch (the best one is in best.safetensors)."""
        return self.strategy.eval_model("target").eval()


def make_fabric(config: RunConfig):
    try:
        from lightning_fabric import Fabric
        from lightning_fabric.strategies import DDPStrategy
    except ImportError:  # the full `lightning` package ships Fabric under this name
        from lightning.fabric import Fabric
        from lightning.fabric.strategies import DDPStrategy
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    strategy = DDPStrategy(find_unused_parameters=True, process_group_backend="gloo" if device == "cpu" else None) \
        if config.devices > 1 else "auto"
    fabric = Fabric(accelerator=device, devices=config.devices, precision=fabric_precision(precision),
                    strategy=strategy)
    return fabric, device, precision


def lr_lambda(config: RunConfig, total_steps: int, steps_per_epoch: int, strategy) -> Callable[[int], float]:
    sched = config.schedule
    warm = int(sched.warmup_epochs * steps_per_epoch)
    if sched.scheduler == "onecycle" and warm == 0:
        warm = int(0.3 * total_steps)

    def factor(step: int) -> float:
        p = min(step / max(total_steps, 1), 1.0)
        f = (step + 1) / warm if step < warm else 1.0
        if sched.scheduler in ("cosine", "onecycle"):
            q = (step - warm) / max(total_steps - warm, 1) if step >= warm else 0.0
            f *= 0.5 * (1 + math.cos(math.pi * min(q, 1.0)))
        elif sched.scheduler == "dann":
            f *= 1.0 / (1.0 + 10 * p) ** 0.75
        return f * strategy.lr_scale
    return factor


def build_loaders(ctx: TrainContext, uses: list[str], cached: bool) -> dict:
    """One shuffled training loader per batch key the strategy uses (src, tgt, tgt_u)."""
    config, fabric = ctx.config, ctx.fabric
    if cached:
        return {k: TensorBatches(ctx.cached_dataset(BATCH_KEYS[k]).tensors, config.batch_size, config.seed + j,
                                 fabric.device) for j, k in enumerate(uses)}
    return {k: fabric.setup_dataloaders(make_loader(ctx.dataset(BATCH_KEYS[k]), config.batch_size, True,
                                                    config.seed + j), move_to_device=True)
            for j, k in enumerate(uses)}


def build_optimizer(config: RunConfig, strategy, total_steps: int, steps_per_epoch: int):
    """Per-stage parameter groups (discriminative LRs; stages the freeze plan trains are
    included while still frozen, so they can be unfrozen later), the strategy's own modules
    at the base LR, and the LR schedule."""
    mult = stage_lr_multipliers(strategy.backbone, config.model.lr_decay)
    groups = param_groups(strategy.backbone, config.optim.lr, mult, config.optim.weight_decay, plan=strategy.freeze)
    backbone_ids = {id(p) for p in strategy.backbone.parameters()}
    extra = [p for p in strategy.parameters() if id(p) not in backbone_ids]  # e.g. a discriminator
    if extra:
        groups.append({"params": extra, "lr": config.optim.lr, "weight_decay": config.optim.weight_decay})
    if config.optim.name == "sgd":
        optimizer = torch.optim.SGD(groups, lr=config.optim.lr, momentum=config.optim.momentum)
    else:
        optimizer = torch.optim.AdamW(groups, lr=config.optim.lr)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(config, total_steps, steps_per_epoch, strategy))


def _forever(loader):
    while True:
        yield from loader


def train(config: RunConfig, out_dir: str | Path | None = None, callbacks: Iterable[Callable] = (),
          should_stop: Callable[[], bool] | None = None, resume: bool = False) -> TrainResult:
    """Run ``config`` to the end (or until ``should_stop()``), writing files under ``out_dir``."""
    fabric, device, precision = make_fabric(config)
    fabric.launch()
    fabric.seed_everything(config.seed, verbose=False)
    if device == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    out_dir = Path(out_dir) if out_dir else None
    callbacks = list(callbacks) if fabric.is_global_zero else []

    def emit(event):
        for cb in callbacks:
            cb(event)

    start = time.perf_counter()
    ctx = TrainContext(config, fabric)
    for w in ctx.warnings:
        emit(LogMessage(w, "warning"))
    strategy, info = ctx.strategy, ctx.strategy_info
    strategy.to(fabric.device)
    if out_dir and fabric.is_global_zero:
        out_dir.mkdir(parents=True, exist_ok=True)
        config.replace(environment=record_environment()).to_json(out_dir / "config.json")  # this run's own
        ctx.data.target.save_split(out_dir / "target_split.json")

    # Before transfer: a linear probe on the untrained network's features, same split.
    probe_train = "target_labelled" if len(ctx.data.target_labelled) else "source_train"
    before = linear_probe(*ctx.initial_features(probe_train), *ctx.initial_features("target_test"),
                          ctx.data.class_names, config.seed) if ctx.has(probe_train) else None
    strategy.setup(ctx)
    if out_dir and fabric.is_global_zero:
        write_artifacts(out_dir, strategy)  # e.g. instance weights, known from setup: the UI shows them live
        save_test_gallery(out_dir, ctx)

    uses = [k for k, on in (("src", info.needs_source),
                            ("tgt", info.needs_target_labels or (info.semi_supervised and len(ctx.data.target_labelled))),
                            ("tgt_u", info.uses_unlabelled_target)) if on]
    backbone_frozen = all(s.name in strategy.backbone.frozen_stages for s in strategy.backbone.stages()
                          if s.name != "head")
    cached = (config.feature_cache and info.cacheable and backbone_frozen and config.data.augment == "none"
              and config.devices == 1)
    strategy.features_cached = cached
    loaders = build_loaders(ctx, uses, cached)
    # An epoch is one pass over the larger labelled set: a joint run with 10 target labels a
    # class walks the source once (not 2 batches of targets), the others cycle alongside.
    main_key = max((k for k in ("src", "tgt") if k in loaders), key=lambda k: len(loaders[k]))
    steps_per_epoch = len(loaders[main_key])
    total_steps = steps_per_epoch * config.schedule.epochs

    optimizer, scheduler = build_optimizer(config, strategy, total_steps, steps_per_epoch)
    if device == "cuda":
        strategy.to(memory_format=torch.channels_last)
    model, optimizer = fabric.setup(strategy, optimizer)
    model.mark_forward_method("training_step")

    history, best_value, best_epoch, first_epoch, metrics = [], -math.inf, 0, 0, {}
    if resume and out_dir and (out_dir / "checkpoints" / "last.safetensors").exists():
        state = load_checkpoint(out_dir / "checkpoints", strategy, optimizer, scheduler)
        history, best_value, best_epoch, first_epoch = (state["history"], state["best_value"],
                                                        state["best_epoch"], state["epoch"])
        emit(LogMessage(f"resumed from epoch {first_epoch}"))
    # The feature map: the probe set before training (the pretrained view), then every k epochs.
    maps = FeatureSnapshots.for_run(out_dir, ctx, strategy) if fabric.is_global_zero else None
    if maps and not maps.has(first_epoch):
        maps.take(first_epoch, strategy, cached)

    n_params = sum(p.numel() for p in strategy.parameters())
    emit(RunStarted(device, precision, n_params, sum(p.numel() for p in strategy.parameters() if p.requires_grad),
                    steps_per_epoch, config.schedule.epochs, cached, first_epoch * steps_per_epoch))
    status, error, images_seen, train_seconds = "finished", None, 0, 0.0
    global_step = first_epoch * steps_per_epoch
    patience_left = config.schedule.early_stopping_patience
    for epoch in range(first_epoch, config.schedule.epochs):
        message = strategy.on_epoch_start(epoch, config.schedule.epochs)
        frozen = {s.name: s.name in strategy.backbone.frozen_stages for s in strategy.backbone.stages()}
        emit(EpochStarted(epoch + 1, message, frozen))
        for j, loader in enumerate(loaders.values()):  # the same shuffles whether resumed or not
            if hasattr(loader.sampler, "set_epoch"):
                loader.sampler.set_epoch(epoch)
            elif getattr(loader, "generator", None) is not None:
                loader.generator.manual_seed(config.seed * 1000 + epoch * 10 + j)
        torch.manual_seed(config.seed * 1000 + epoch)
        others = {k: _forever(loader) for k, loader in loaders.items() if k != main_key}
        model.train()
        t0 = time.perf_counter()
        for main_batch in loaders[main_key]:
            batch = {}
            for key, (x, y, i) in [(main_key, main_batch)] + [(k, next(it)) for k, it in others.items()]:
                if not cached:
                    x = ctx.preprocess(x, train=True)
                    if device == "cuda":
                        x = x.contiguous(memory_format=torch.channels_last)
                batch.update({key: x} if key == "tgt_u" else {f"{key}_x": x, f"{key}_y": y, f"{key}_i": i})
            progress = global_step / max(total_steps, 1)
            out = model.training_step(batch, progress)
            loss = out["loss"]
            if not torch.isfinite(loss):
                last_good = history[-1]["epoch"] if history else 0
                status = "failed"
                error = (f"the loss became {loss.item()} at epoch {epoch + 1}, step {global_step + 1}; the last "
                         f"good epoch is {last_good}" + (" (its checkpoint is kept)" if last_good else "")
                         + f". Try a lower learning rate than {config.optim.lr:g}.")
                break
            optimizer.zero_grad(set_to_none=True)
            fabric.backward(loss)
            optimizer.step()
            scheduler.step()
            global_step += 1
            images_seen += sum(len(v) for k, v in batch.items() if k.endswith("_x") or k == "tgt_u")
            values = {k: float(v.detach()) for k, v in out.items()}
            values["lr"] = optimizer.param_groups[-1]["lr"]
            emit(StepEnded(epoch + 1, global_step, values))
            if should_stop is not None and should_stop():
                status = "stopped"
                break
        train_seconds += time.perf_counter() - t0
        if status == "failed":
            break
        last_epoch = epoch + 1 == config.schedule.epochs
        evaluated = (epoch + 1) % max(config.schedule.eval_every, 1) == 0 or last_epoch or status == "stopped"
        epoch_metrics = evaluate_all(ctx, strategy, fabric, cached) if evaluated else {}
        metrics = epoch_metrics or metrics  # the last evaluated epoch's, for the summary
        monitor = epoch_metrics.get(f"target.val.{config.schedule.monitor}")
        improved = evaluated and (monitor is None or monitor > best_value)
        if improved:
            best_value, best_epoch = (monitor if monitor is not None else best_value), epoch + 1
        record = {"epoch": epoch + 1, **{k: v for k, v in epoch_metrics.items() if not isinstance(v, dict)}}
        history.append(record)
        if out_dir and fabric.is_global_zero and "target.test.details" in epoch_metrics:
            save_test_predictions(out_dir, epoch + 1, epoch_metrics["target.test.details"])
        if maps and maps.due(epoch + 1, last=last_epoch or status == "stopped"):
            maps.take(epoch + 1, strategy, cached)
        emit(EpochEnded(epoch + 1, epoch_metrics, time.perf_counter() - t0, improved))
        if out_dir and fabric.is_global_zero:
            save_checkpoint(out_dir / "checkpoints", strategy, optimizer, scheduler,
                            {"epoch": epoch + 1, "history": history, "best_value": best_value,
                             "best_epoch": best_epoch}, best=improved)
        if status == "stopped":
            break
        if patience_left is not None and evaluated:
            patience_left = config.schedule.early_stopping_patience if improved else patience_left - 1
            if patience_left < 0:
                emit(LogMessage(f"early stop: no val improvement for "
                                f"{config.schedule.early_stopping_patience} epochs"))
                break

    if maps:
        if history and not maps.has(history[-1]["epoch"]) and status != "failed":
            maps.take(history[-1]["epoch"], strategy, cached)  # early stopping: the last epoch too
        maps.close()
    if fabric.world_size > 1:  # every process trained on its own shard: count them all
        images_seen = int(fabric.all_reduce(torch.tensor(float(images_seen)), reduce_op="sum").item())
    summary = build_summary(config, ctx, history, metrics, best_epoch, before, status, error,
                            device, precision, cached, time.perf_counter() - start, images_seen, train_seconds,
                            n_params, strategy)
    if out_dir and fabric.is_global_zero:
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        write_artifacts(out_dir, strategy)
    emit(RunEnded(status, summary, error))
    return TrainResult(status, summary, out_dir, strategy, history, fabric.is_global_zero)


@torch.no_grad()
def predict(ctx: TrainContext, module, fabric, dataset, cached: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, predictions, confidences) on ``dataset``, sharded over the processes and
    gathered on every one, in the dataset's order."""
    rank, world = fabric.global_rank, fabric.world_size
    preds, confs, labels = [], [], []
    for x, y in stacked_batches(dataset, max(ctx.config.batch_size, 64), range(rank, len(dataset), world)):
        x = fabric.to_device(x)
        with fabric.autocast():
            logits = module.forward_head(x) if cached else module(ctx.preprocess(x))
        prob = logits.float().softmax(1)
        conf, pred = prob.max(1)
        # The probability given to the true class, for the mean cross-entropy (val loss).
        p_true = prob.gather(1, y.to(prob.device).clamp(min=0)[:, None])[:, 0]
        preds.append(pred.cpu())
        confs.append(torch.stack([conf, p_true], 1).cpu())
        labels.append(y)
    pred = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long)
    conf = torch.cat(confs) if confs else torch.zeros(0, 2)
    true = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long)
    if world > 1:  # pad to equal length, gather, drop the padding, restore the dataset's order
        n = math.ceil(len(dataset) / world)
        pad = lambda t, v: torch.cat([t, torch.full((n - len(t),), v, dtype=t.dtype)])  # noqa: E731
        pred, true = (fabric.all_gather(pad(t, -1)).cpu().flatten() for t in (pred, true))
        conf = fabric.all_gather(torch.cat([conf, torch.zeros(n - len(conf), 2)])).cpu().reshape(-1, 2)
        order = torch.tensor([i for r in range(world) for i in range(r, len(dataset), world)
                              ] + [-1] * (n * world - len(dataset)))
        keep = true >= 0
        pred, conf, true, order = pred[keep], conf[keep], true[keep], order[keep]
        back = torch.argsort(order)
        pred, conf, true = pred[back], conf[back], true[back]
    return true.numpy(), pred.numpy(), conf.numpy()  # conf: (max probability, true-class probability)


def evaluate_all(ctx: TrainContext, strategy, fabric, cached: bool) -> dict:
    """Metrics on target and source val/test: 'target.test.accuracy' etc., plus details."""
    strategy.eval()
    if strategy.adapts_at_eval and not cached:
        strategy.adapt_for_eval(ctx.preprocess(fabric.to_device(x))
                                for x, _ in stacked_batches(ctx.dataset("target_unlabelled"), 128))
    metrics = {}
    for domain, split in (("target", "val"), ("target", "test"), ("source", "val"), ("source", "test")):
        which = f"{domain}_{split}"
        if not ctx.has(which):
            continue
        dataset = ctx.cached_dataset(which) if cached else ctx.dataset(which)
        true, pred, conf = predict(ctx, strategy.eval_model(domain), fabric, dataset, cached)
        m = classification_metrics(true, pred, ctx.data.class_names)
        m["predictions"] = {"true": true.tolist(), "pred": pred.tolist(),
                            "confidence": np.round(conf[:, 0], 4).tolist()}
        for name in SCALARS:
            metrics[f"{domain}.{split}.{name}"] = m[name]
        metrics[f"{domain}.{split}.loss"] = float(-np.log(np.clip(conf[:, 1], 1e-12, 1)).mean()) if len(conf) else None
        metrics[f"{domain}.{split}.details"] = m
    return metrics


def build_summary(config, ctx, history, metrics, best_epoch, before, status, error, device, precision, cached,
                  wall, images_seen, train_seconds, n_params, strategy) -> dict:
    summary = {"status": status, "error": error, "epochs_run": len(history), "best_epoch": best_epoch,
               "strategy": config.strategy.name, "backbone": config.model.backbone,
               "weights": config.model.weights, "freeze": config.model.freeze,
               "device": device, "precision": precision, "feature_cache": cached,
               "wall_time_s": round(wall, 2), "train_time_s": round(train_seconds, 2),
               "throughput_img_s": round(images_seen / train_seconds, 1) if train_seconds else None,
               "params": n_params, "class_names": list(ctx.data.class_names), "warnings": ctx.warnings,
               # Evaluation is sharded over the processes and the predictions gathered.
               "world_size": ctx.fabric.world_size}
    summary.update({k: v for k, v in metrics.items() if not isinstance(v, dict)})
    if best_epoch and history:
        best = history[best_epoch - 1] if best_epoch - 1 < len(history) else history[-1]
        summary.update({f"best.{k}": v for k, v in best.items() if k != "epoch"})
    if before is not None:
        summary.update({f"before.target.test.{k}": before[k] for k in SCALARS})
        summary["before.method"] = "logistic regression on the untrained network's features (same split)"
    if "target.test.details" in metrics:
        summary["target.test.per_class"] = metrics["target.test.details"]["per_class"]
        summary["target.test.confusion_matrix"] = metrics["target.test.details"]["confusion_matrix"]
    return summary
