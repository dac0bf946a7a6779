"""The one training loop. Every strategy runs through it: steps, epochs, evaluation, and
events for whoever listens. It writes no file and starts no process; the caller attaches
listeners (tlcore.listeners: the run folder's files, checkpoints, the feature map; the run
store; MLflow; a progress bar) — ``tlcore.fitting`` does for a notebook, the worker for a run.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import RunConfig
from ..devices import choose_memory_format, fabric_precision, resolve_device, resolve_precision
from ..features import LinearFit, linear_probe
from ..metrics import classification_metrics
from ..run_folder import RunFolder
from ..validators import CHOSEN
from .batches import BATCH_KEYS, assemble, batch_kinds, build_loaders, forever, images_in, reseed
from .checkpoint import load_checkpoint
from .context import TrainContext
from .evaluate import evaluate_all
from .label_free import probe_validator_metrics
from .events import EpochEnded, EpochStarted, LogMessage, RunEnded, RunStarted, StepEnded
from .optim import build_optimizer
from .state import LoopState
from .summary import build_summary
from .trunk import build_trunk_cache, trunk_active


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


def _val_score(fit: LinearFit) -> tuple[float, float]:
    row = next(r for r in fit.candidates if r["C"] == fit.C)
    return row.get("val_accuracy", 0.0), -row.get("val_loss", 0.0)


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


def train(config: RunConfig, listeners: Iterable[Callable] = (), should_stop: Callable[[], bool] | None = None,
          resume_from: RunFolder | None = None) -> TrainResult:
    """Run ``config`` to the end, or until ``should_stop()`` says so, telling ``listeners``
    every event; ``resume_from``: a run folder whose last checkpoint training continues from."""
    loop = _Loop(config, listeners, should_stop)
    loop.prepare(resume_from)
    if resume_from is not None and 0 < loop.epochs <= loop.state.epoch:
        loop.evaluate_as_ended()  # nothing left to train: the checkpoint is the model
    for epoch in range(loop.state.epoch, loop.epochs):
        if not loop.run_epoch(epoch) or loop.stop_asked_between_epochs():
            break
    return loop.finish()


class _Loop:
    def __init__(self, config: RunConfig, listeners: Iterable[Callable], should_stop):
        self.config, self.should_stop, self.started = config, should_stop, time.perf_counter()
        self.fabric, self.device, self.precision = make_fabric(config)
        self.fabric.launch()
        self.fabric.seed_everything(config.seed, verbose=False)
        if self.device == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.listeners = list(listeners) if self.fabric.is_global_zero else []
        self.state = LoopState()
        self.memory_format, self.memory_format_why = choose_memory_format(config.memory_format, self.device)
        self.patience_left = config.schedule.early_stopping_patience  # evaluations without improvement left
        self.trunk, self.trunk_for, self.trunk_note = None, None, ""  # the frozen-trunk cache (see _refresh_trunk)
        self.loaders: dict = {}

    def emit(self, event) -> None:
        for listener in self.listeners:
            listener(event)

    def prepare(self, resume_from: RunFolder | None) -> None:
        """Data, model and strategy; the before-transfer probe; loaders, optimiser, schedule;
        the checkpoint to resume from. Ends with RunStarted."""
        config, fabric = self.config, self.fabric
        self.ctx = ctx = TrainContext(config, fabric)
        self.strategy = strategy = ctx.strategy
        strategy.to(fabric.device)
        if self.memory_format == "channels_last":  # before any forward: the cache and probes use it too
            strategy.to(memory_format=torch.channels_last)
        # Setting the strategy up freezes stages; it changes no weight the probes below read.
        strategy.setup(ctx)
        self.cached = self._feature_cache_on()
        strategy.features_cached = self.cached
        self.epochs = self._epochs_to_run()
        self._refresh_trunk()  # before the probes: their features are computed from the trunk's output
        # The before-transfer probe and the source-only twin read this copy when the run ends:
        # off the path to the first step (issue 21: Start -> first point).
        ctx.keep_initial_model()
        self.head_fit = self._convex_head_fit()
        self.epochs = 1 if self.head_fit else self.epochs  # the solver's is one "epoch"
        with trunk_active(ctx, strategy.backbone, self.trunk, on=self._trunk_trains):
            self.loaders, self.main_key = build_loaders(ctx, self.cached)
        for warning in ctx.warnings:  # the loaders add theirs (e.g. the class-balanced sampler turned on)
            self.emit(LogMessage(warning, "warning"))
        steps_per_epoch = len(self.head_fit.candidates) if self.head_fit else len(self.loaders[self.main_key])
        # The schedule's length: what the LR schedule and a strategy's progress run over.
        self.total_steps = steps_per_epoch * (1 if self.head_fit else config.schedule.epochs)
        optimizer, self.scheduler = build_optimizer(config, strategy, self.total_steps, steps_per_epoch)
        self.model, self.optimizer = fabric.setup(strategy, optimizer)
        self.model.mark_forward_method("training_step")
        if resume_from is not None and resume_from.checkpoint("last") is not None:
            record = load_checkpoint(resume_from, strategy, optimizer, self.scheduler)
            self.state = LoopState.resumed(record, steps_per_epoch)
            self.emit(LogMessage(f"resumed from epoch {self.state.epoch}"))
        self.n_params = sum(p.numel() for p in strategy.parameters())
        trainable = sum(p.numel() for p in strategy.parameters() if p.requires_grad)
        self.emit(RunStarted(self.device, self.precision, self.n_params, trainable, steps_per_epoch,
                             self.epochs, self.cached, self.state.global_step, self.state.epoch,
                             ctx, strategy, self.optimizer, self.scheduler, self.memory_format))

    def _before_probe(self) -> dict | None:
        """Before transfer: the optimal linear head on the untrained network's features (its L2
        strength chosen on target val), trained on the labelled target, else on the source."""
        ctx = self.ctx
        probe_train = "target_labelled" if len(ctx.data.target_labelled) else "source_train"
        if not ctx.has(probe_train) or not self.config.schedule.eval_test:
            return None
        test_f, test_y = ctx.initial_features("target_test")
        fit = ctx.linear_fit((probe_train,))
        if fit is None:  # one class only: the probe can only say that class
            return linear_probe(*ctx.initial_features(probe_train), test_f, test_y, ctx.data.class_names)
        return classification_metrics(test_y, fit.head.predict(test_f), ctx.data.class_names)

    def _epochs_to_run(self) -> int:
        stop_after = self.config.schedule.stop_after_epochs
        return min(stop_after, self.config.schedule.epochs) if stop_after > 0 else self.config.schedule.epochs

    def _convex_head_fit(self) -> LinearFit | None:
        """With every backbone stage frozen and a plain cross-entropy strategy, training the
        head is logistic regression: solved to its optimum instead of by SGD epochs, so the run
        cannot end below the before-transfer probe (OptimConfig.head_solver "sgd" keeps SGD)."""
        splits = self.ctx.strategy_info.linear_head_data
        head = self.strategy.backbone.head
        if not (self.cached and splits and self.config.optim.head_solver == "lbfgs"
                and isinstance(head, torch.nn.Linear)):
            return None
        plain = self.ctx.linear_fit(splits)
        if self.config.data.augment == "none" or plain is None:
            return plain
        # With augmentation: fitted on the augmented views too, and kept only if val says so.
        augmented = self.ctx.linear_fit(splits, augmented=True)
        better = max((plain, augmented), key=_val_score)
        self.emit(LogMessage(f"linear head: {'augmented' if better is augmented else 'plain'} features chosen on "
                             f"val ({_val_score(augmented)[0]:.3f} augmented, {_val_score(plain)[0]:.3f} plain)"))
        return better

    def _feature_cache_on(self) -> bool:
        """Train the head on cached features: the backbone is frozen, so its output for an
        image never changes; with augmentation, the cache holds a few augmented views of each."""
        backbone = self.strategy.backbone
        frozen = all(s.name in backbone.frozen_stages for s in backbone.stages() if s.name != "head")
        augmented_ok = self.config.data.augment == "none" or self.config.cache_views >= 1
        return (self.config.feature_cache and self.ctx.strategy_info.cacheable and frozen and augmented_ok
                and self.config.devices == 1)

    def run_epoch(self, epoch: int) -> bool:
        """Train one epoch, evaluate when due, tell the listeners; False when the run ends here."""
        config, state = self.config, self.state
        message = self.strategy.on_epoch_start(epoch, config.schedule.epochs)
        frozen = {s.name: s.name in self.strategy.backbone.frozen_stages for s in self.strategy.backbone.stages()}
        self.emit(EpochStarted(epoch + 1, message, frozen))
        self._refresh_trunk()
        reseed(self.loaders, config.seed, epoch)
        t0 = time.perf_counter()
        with trunk_active(self.ctx, self.strategy.backbone, self.trunk, on=self._trunk_trains):
            self._train_steps(epoch)
        if self.trunk is not None and self.trunk.filling:
            self.trunk.complete_filling(self.ctx, self.strategy.backbone, self.fabric)
        state.train_seconds += time.perf_counter() - t0
        if state.status == "failed":
            return False
        stopped, last = state.status == "stopped", epoch + 1 == self.epochs
        evaluated = (epoch + 1) % max(config.schedule.eval_every, 1) == 0 or last or stopped
        metrics = self._evaluate() if evaluated else {}
        improved = self._record(epoch + 1, metrics, evaluated)
        early = self._patience_ran_out(evaluated, improved)
        self.emit(EpochEnded(epoch + 1, metrics, time.perf_counter() - t0, improved, final=last or stopped or early,
                             loop_state=state.checkpoint_record()))
        if early:
            self.emit(LogMessage(f"early stop: no val improvement for {config.schedule.early_stopping_patience} "
                                 "epochs"))
        return not (stopped or early)

    def _evaluate(self) -> dict:
        if self.trunk is not None and (self.trunk.pending or not self.trunk_note):
            self.trunk.extend(self.ctx, self.strategy.backbone, self.fabric)
            self.trunk_note = self.trunk.describe(self.epochs)
            self.emit(LogMessage(self.trunk_note))
        with trunk_active(self.ctx, self.strategy.backbone, self.trunk):
            return evaluate_all(self.ctx, self.strategy, self.fabric, self.cached)

    def _refresh_trunk(self) -> None:
        """The frozen-trunk cache (tlcore.train.trunk) for the freeze map of this epoch: built
        before the first epoch, again when a plan (gradual unfreezing, LP-FT) changes the map."""
        backbone, info = self.strategy.backbone, self.ctx.strategy_info
        if (self.cached or not self.config.feature_cache or self.config.devices > 1
                or self.strategy.adapts_at_eval or self.trunk_for == backbone.frozen_stages):
            return
        self.trunk_for = backbone.frozen_stages
        training = self.config.data.augment == "none" and not info.strong_unlabelled_view
        had_training_cache = self._trunk_trains
        self.trunk = self.ctx.trunk = None  # the old one's memory goes before the new one is built
        if backbone.frozen_stages:
            # The training splits' outputs now; the evaluated splits' at the first evaluation, off
            # the path to the first step.
            now = [BATCH_KEYS[k] for k in batch_kinds(self.ctx)] if training else []
            self.trunk, why = build_trunk_cache(self.ctx, backbone, self.fabric, self._trunk_splits(training),
                                                training, now)
            self.ctx.trunk = self.trunk
            if self.trunk is None:
                self.trunk_note = f"no frozen-trunk cache: {why}"
                self.emit(LogMessage(self.trunk_note))
        if had_training_cache or (self.trunk and self.trunk.training):
            with trunk_active(self.ctx, backbone, self.trunk, on=self._trunk_trains):
                if self.loaders:  # built in prepare; rebuilt when the trunk changes
                    self.loaders, self.main_key = build_loaders(self.ctx, self.cached)

    @property
    def _trunk_trains(self) -> bool:
        """Whether training reads the trunk cache (no augmentation before the trunk)."""
        return bool(self.trunk and self.trunk.training)

    def _trunk_splits(self, training: bool) -> list[str]:
        """What the loop reads while the trunk cache is active: every evaluated split, the
        validators' splits, and with ``training`` the training splits."""
        splits = ["target_val", "source_val"] + (["target_test", "source_test"] if self.config.schedule.eval_test
                                                 else [])
        if self.ctx.strategy_info.needs_source:
            splits += ["source_train", "target_unlabelled"]
        if training:
            splits += [BATCH_KEYS[k] for k in batch_kinds(self.ctx)]
        return list(dict.fromkeys(splits))

    def evaluate_as_ended(self) -> None:
        """A run resumed with no epoch left to train (the recipe search keeps its winner this
        way, with test evaluation now on): evaluate the checkpoint once as the run's last and
        best epoch, so its files, summary and store rows describe that model."""
        state = self.state
        metrics = self._evaluate()
        state.metrics = metrics
        value = self._monitored(metrics)
        state.best_value = value if value is not None else state.best_value
        state.best_epoch = state.epoch
        if state.history:
            state.history[-1].update({k: v for k, v in metrics.items() if not isinstance(v, dict)})
        self.emit(EpochEnded(state.epoch, metrics, 0.0, True, final=True, loop_state=state.checkpoint_record()))

    def stop_asked_between_epochs(self) -> bool:
        """A stop asked for as an epoch ended: the run ends there, on a whole epoch (the recipe
        search trains its candidates rung by rung this way, resuming the ones it keeps)."""
        if self.state.epoch < self.epochs and self.should_stop is not None and self.should_stop():
            self.state.status = "stopped"
            return True
        return False

    def _train_steps(self, epoch: int) -> None:
        if self.head_fit is not None:
            self._solve_head(epoch)
            return
        state, optimizer = self.state, self.optimizer
        others = {k: forever(loader) for k, loader in self.loaders.items() if k != self.main_key}
        # The splits whose trunk outputs this epoch computes from its own batches (the first).
        filling = self.trunk.filling if self.trunk is not None else set()
        self.model.train()
        for main_batch in self.loaders[self.main_key]:
            parts = [(self.main_key, main_batch)] + [(k, next(it)) for k, it in others.items()]
            if filling:
                parts = [(k, self.trunk.fill(self.strategy.backbone, self.fabric, BATCH_KEYS[k], b)
                          if BATCH_KEYS[k] in filling else b) for k, b in parts]
            batch = assemble(self.ctx, parts, self.cached, channels_last=self.memory_format == "channels_last")
            out = self.model.training_step(batch, state.global_step / max(self.total_steps, 1))
            if not torch.isfinite(out["loss"]):
                self._diverged(out["loss"], epoch)
                return
            optimizer.zero_grad(set_to_none=True)
            self.fabric.backward(out["loss"])
            optimizer.step()
            self.scheduler.step()
            state.global_step += 1
            state.images_seen += images_in(batch)
            values = {k: float(v.detach()) for k, v in out.items()}
            values["lr"] = optimizer.param_groups[-1]["lr"]
            self.emit(StepEnded(epoch + 1, state.global_step, values))
            if self.should_stop is not None and self.should_stop():
                state.status = "stopped"
                return

    def _solve_head(self, epoch: int) -> None:
        """The convex head: one step per L2 strength tried (its train loss and accuracy, its
        val accuracy), then the chosen one's weights in the head."""
        fit, head, n = self.head_fit, self.strategy.backbone.head, self.total_steps
        images = sum(len(self.ctx.dataset(s)) for s in self.ctx.strategy_info.linear_head_data)
        self.state.train_seconds += fit.seconds  # the fits ran while the run was prepared
        for row in fit.candidates:
            self.state.global_step += 1
            self.state.images_seen += images
            values = {"loss": row["train_loss"], "train_acc": row["train_accuracy"], "l2_C": row["C"]}
            if "val_accuracy" in row:
                values["val_acc"] = row["val_accuracy"]
            self.emit(StepEnded(epoch + 1, self.state.global_step, values))
        weight, bias = fit.head.linear_weights(self.strategy.num_classes)
        with torch.no_grad():
            head.weight.copy_(weight.to(head.weight.device))
            head.bias.copy_(bias.to(head.bias.device))
        self.emit(LogMessage(f"linear head fitted to its optimum (L-BFGS), L2 strength C={fit.C:g} chosen on the "
                             f"target val split out of {n} tried"))

    def _diverged(self, loss: torch.Tensor, epoch: int) -> None:
        state = self.state
        last_good = state.history[-1]["epoch"] if state.history else 0
        state.status = "failed"
        state.error = (f"the loss became {loss.item()} at epoch {epoch + 1}, step {state.global_step + 1}; the last "
                       f"good epoch is {last_good}" + (" (its checkpoint is kept)" if last_good else "")
                       + f". Try a lower learning rate than {self.config.optim.lr:g}.")

    def _record(self, epoch: int, metrics: dict, evaluated: bool) -> bool:
        """Add the epoch to the history; True when it is the best so far (by target val)."""
        state = self.state
        state.metrics = metrics or state.metrics  # the last evaluated epoch's, for the summary
        monitor = self._monitored(metrics)
        improved = evaluated and (monitor is None or monitor > state.best_value)
        if improved:
            state.best_value, state.best_epoch = (monitor if monitor is not None else state.best_value), epoch
        state.history.append({"epoch": epoch, **{k: v for k, v in metrics.items() if not isinstance(v, dict)}})
        state.epoch = epoch
        return improved

    def _monitored(self, metrics: dict) -> float | None:
        """The number that picks the best epoch: the target val metric; without target labels,
        the label-free validator the app chooses with (the target's val labels are the user's
        evaluation, not for choosing a model the user could not have chosen)."""
        if not len(self.ctx.data.target_labelled) and f"validators.{CHOSEN}" in metrics:
            return metrics[f"validators.{CHOSEN}"]
        return metrics.get(f"target.val.{self.config.schedule.monitor}")

    def _patience_ran_out(self, evaluated: bool, improved: bool) -> bool:
        patience = self.config.schedule.early_stopping_patience
        if patience is None or not evaluated or self.state.status == "stopped":
            return False
        self.patience_left = patience if improved else self.patience_left - 1
        return self.patience_left < 0

    def _probes(self) -> tuple[dict | None, dict]:
        """The before-transfer probe, and the source-only twin an adaptation run is judged
        against (tlcore.verdict): the probe on the source's pretrained features, with the same
        validators the run records. Both on the network as it was before the first step."""
        ctx = self.ctx
        twin = probe_validator_metrics(ctx, ctx.linear_fit(("source_train",))) if ctx.strategy_info.needs_source \
            else {}
        return self._before_probe(), twin

    def finish(self) -> TrainResult:
        state, fabric = self.state, self.fabric
        self.before, self.twin = self._probes()
        if fabric.world_size > 1:  # every process trained on its own shard: count them all
            state.images_seen = int(fabric.all_reduce(torch.tensor(float(state.images_seen)), reduce_op="sum").item())
        summary = build_summary(self.config, self.ctx, state, self.before, self.device, self.precision, self.cached,
                                time.perf_counter() - self.started, self.n_params)
        summary.update({f"twin.{k}": v for k, v in self.twin.items()})
        if self.twin and not len(self.ctx.data.target_labelled):
            summary["best_by"] = f"validators.{CHOSEN}"
        summary["memory_format"], summary["memory_format_why"] = self.memory_format, self.memory_format_why
        if self.trunk_note:
            summary["trunk_cache"] = self.trunk.record(self.epochs) if self.trunk else {"off": self.trunk_note}
        if self.head_fit is not None:
            summary["linear_head_C"] = self.head_fit.C  # the L2 strength the convex head chose on val
        self.emit(RunEnded(state.status, summary, state.error))
        return TrainResult(state.status, summary, None, self.strategy, state.history, fabric.is_global_zero)
