"""The frozen-trunk cache: when the stages below the trainable ones are frozen (their
BatchNorm statistics too) and nothing random happens in them, their output for an image
never changes. It is computed once per split, kept in a compact dtype, and training and
evaluation run only the stages above it; the result is the same model, trained on the
same batches in the same order, at a fraction of the cost (BENCHMARKS.md, speed-real).

The split is found from the backbone itself, for any family: one forward pass records the
order in which its modules run; the trunk is the largest frozen modules that finish before
the first trainable one starts. While the cache is active those modules are swapped for
pass-throughs, so ``body(trunk output)`` runs the rest of the network exactly as written.
A check on real images confirms ``rest(trunk(x)) == body(x)`` before the cache is used (a
forward that does arithmetic between its stages, as ViT's does, fails it: no cache then).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..backbones.base import HEAD, Backbone
from ..data.pipeline import stacked_batches

MEMORY_BUDGET_BYTES = 2 << 30  # the cache of all splits together, in float16; above it, no cache
# Below this the cache stays float32, so a run gives the same numbers with it as without;
# above it float16 halves it (a DANN run's accuracy then moved by one test image in 60).
FLOAT32_BYTES = 512 << 20


class _TrunkDone(Exception):
    """Raised by a hook on the trunk's last module, carrying its output: nothing above it runs."""

    def __init__(self, output: torch.Tensor):
        super().__init__()
        self.output = output


class PassThrough(nn.Module):
    """Stands in for a trunk module while the cache is active: its input is already the output.
    It keeps the module it replaces outside its own submodules (a list), so the model's
    parameters and state dict stay where they are, and ``full_body`` can put it back."""

    def __init__(self, original: nn.Module):
        super().__init__()
        self.original = [original]

    def forward(self, x, *args, **kwargs):
        return x


@dataclass(frozen=True)
class TrunkPlan:
    modules: tuple[str, ...]  # the trunk: body submodules swapped for pass-throughs, in call order
    last: str  # the one whose output is cached
    last_calls: int  # how often it runs in one forward (the cached output is its last call's)
    stages: tuple[str, ...]  # the frozen stages the trunk covers


def _module_stages(backbone: Backbone) -> dict[str, set[str]]:
    """Body module name -> the stages of every parameter under it."""
    stage_of = backbone._stage_of
    out: dict[str, set[str]] = {}
    for name, module in backbone.body.named_modules():
        prefix = f"{name}." if name else ""
        out[name] = {stage_of[prefix + p] for p, _ in module.named_parameters()}
    return out


@torch.no_grad()
def plan_trunk(backbone: Backbone, sample: torch.Tensor) -> TrunkPlan | None:
    """The frozen trunk of ``backbone`` as it is frozen now, from one eval-mode forward of
    ``sample`` (a normalised batch); None when no module finishes before a trainable one."""
    frozen = backbone.frozen_stages
    stages = _module_stages(backbone)
    events: list[tuple[str, str]] = []  # ("pre" | "post", module name), in order
    hooks = []
    for name, module in backbone.body.named_modules():
        if name:
            hooks.append(module.register_forward_pre_hook(lambda m, a, n=name: events.append(("pre", n))))
            hooks.append(module.register_forward_hook(lambda m, a, o, n=name: events.append(("post", n))))
    was_training = backbone.training
    backbone.eval()
    try:
        backbone.body(sample)
    finally:
        for hook in hooks:
            hook.remove()
        backbone.train(was_training)
    trainable = lambda n: bool(stages[n] - frozen)  # noqa: E731
    # Where training starts: the first module that holds a trainable parameter itself.
    direct = {n for n, m in backbone.body.named_modules() if n and any(
        backbone._stage_of[f"{n}.{p}"] not in frozen for p, _ in m.named_parameters(recurse=False))}
    if any(backbone._stage_of[p] not in frozen for p, _ in backbone.body.named_parameters(recurse=False)):
        return None  # the body's own parameters (ViT's class token) are used before any module
    first = next((i for i, (kind, n) in enumerate(events) if kind == "pre" and n in direct), len(events))
    calls: dict[str, list[int]] = {}
    for i, (_, n) in enumerate(events):
        calls.setdefault(n, []).append(i)
    inside = {n for n, idx in calls.items() if max(idx) < first and not trainable(n)}
    top = [n for n in inside if not any(n.startswith(p + ".") for p in inside)]
    if not top:
        return None
    top.sort(key=lambda n: calls[n][0])
    last = max(top, key=lambda n: calls[n][-1])
    covered = [s for s in backbone.stage_names() if s in set().union(*(stages[n] for n in top)) and s != HEAD]
    return TrunkPlan(tuple(top), last, len(calls[last]) // 2, tuple(covered))


@torch.no_grad()
def trunk_output(backbone: Backbone, plan: TrunkPlan, x: torch.Tensor) -> torch.Tensor:
    """The trunk's output for a normalised batch: the body runs until its last trunk module."""
    module = backbone.body.get_submodule(plan.last)
    seen = [0]

    def stop(m, args, output):
        seen[0] += 1
        if seen[0] == plan.last_calls:
            raise _TrunkDone(output)

    hook = module.register_forward_hook(stop)
    try:
        backbone.body(x)
    except _TrunkDone as done:
        return done.output
    finally:
        hook.remove()
    raise RuntimeError(f"the trunk's last module {plan.last} did not run")


@contextmanager
def rest_only(backbone: Backbone, plan: TrunkPlan):
    """The body with its trunk swapped for pass-throughs: ``body(trunk output)`` runs the rest."""
    originals = {n: backbone.body.get_submodule(n) for n in plan.modules}
    for n in plan.modules:
        backbone.body.set_submodule(n, PassThrough(originals[n]))
    try:
        yield
    finally:
        for n, module in originals.items():
            backbone.body.set_submodule(n, module)


@contextmanager
def full_body(backbone: Backbone, plan: TrunkPlan):
    """Inside ``rest_only``: the trunk's modules back for a moment (to fill the cache)."""
    swapped = {n: backbone.body.get_submodule(n) for n in plan.modules}
    for n, module in swapped.items():
        if isinstance(module, PassThrough):
            backbone.body.set_submodule(n, module.original[0])
    try:
        yield
    finally:
        for n, module in swapped.items():
            backbone.body.set_submodule(n, module)


class TrunkOutputs(Dataset):
    """(cached trunk output, label, index) of a split: stands in for its ResizedImages."""

    def __init__(self, outputs: torch.Tensor, labels: np.ndarray):
        self.outputs, self.labels = outputs, labels

    def __len__(self) -> int:
        return len(self.outputs)

    def __getitem__(self, i: int):
        return self.outputs[i], int(self.labels[i]), i


class FillingTrunkOutputs(Dataset):
    """A training split whose trunk outputs are computed batch by batch as the first epoch
    draws it, so the first step does not wait for a pass over the whole split (issue 21:
    Start -> first point). Until it is complete its items are the images, which the loop
    turns into outputs with ``TrunkCache.fill``; then it serves the outputs like TrunkOutputs."""

    def __init__(self, images: Dataset):
        self.images, self.labels = images, images.labels
        self.outputs: torch.Tensor | None = None
        self.done = torch.zeros(len(images), dtype=torch.bool)
        self.complete = False

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return (self.outputs[i], int(self.labels[i]), i) if self.complete else self.images[i]

    def store(self, index: torch.Tensor, outputs: torch.Tensor) -> None:
        if self.outputs is None:
            self.outputs = outputs.new_empty((len(self), *outputs.shape[1:]), device="cpu")
        index = index.cpu()
        self.outputs[index] = outputs.cpu()
        self.done[index] = True

    def missing(self) -> list[int]:
        return torch.nonzero(~self.done).flatten().tolist()


class TrunkInputs(nn.Module):
    """The preprocessing of cached trunk outputs: back to float32 (normalising happened before
    the trunk; augmentation never applies to a cached split)."""

    def forward(self, x: torch.Tensor, train: bool = False, augment: str | None = None) -> torch.Tensor:
        return x.float()


@dataclass
class TrunkCache:
    """The cached trunk outputs of a run's splits, and what using them takes."""
    plan: TrunkPlan
    datasets: dict[str, TrunkOutputs]
    training: bool  # the training splits are cached too (no augmentation before the trunk)
    seconds: float
    nbytes: int
    half: bool = False  # stored as float16 (FLOAT32_BYTES)
    pending: list[str] = field(default_factory=list)  # splits whose outputs are not computed yet
    image_preprocess: nn.Module | None = None  # the run's own, while the cache is active (set by trunk_active)

    @property
    def filling(self) -> set[str]:
        """The training splits whose outputs the current epoch is still computing."""
        return {k for k, d in self.datasets.items() if isinstance(d, FillingTrunkOutputs) and not d.complete}

    def fill(self, backbone: Backbone, fabric, which: str, batch: tuple) -> tuple:
        """A training batch (images, labels, indices) of a filling split, inside
        ``trunk_active``: the trunk's outputs for it, stored for the later epochs, in its place."""
        started = time.perf_counter()
        x, y, index = batch
        with full_body(backbone, self.plan):
            outputs = _trunk_batch(backbone, self.plan, fabric, self.image_preprocess(x))
        self.datasets[which].store(index, outputs)
        self.seconds += time.perf_counter() - started
        return outputs, y, index

    def complete_filling(self, ctx, backbone: Backbone, fabric) -> None:
        """After the first epoch: the outputs of the images it did not draw (a dropped ragged
        last batch, a class-balanced sampler's misses), then the split serves outputs."""
        started = time.perf_counter()
        for which in self.filling:
            data = self.datasets[which]
            missing = data.missing()
            if missing:
                data.store(torch.as_tensor(missing), _trunk_outputs(ctx, backbone, self.plan, fabric, data.images,
                                                                     missing))
            data.complete = True
            self.nbytes += data.outputs.numel() * data.outputs.element_size()
        self.seconds += time.perf_counter() - started

    def extend(self, ctx, backbone: Backbone, fabric, splits: list[str] | None = None) -> None:
        """Compute the outputs of ``splits`` (default: every pending one). The trunk is frozen,
        so outputs computed after training started are the ones computed before."""
        started = time.perf_counter()
        for which in list(self.pending if splits is None else splits):
            self.datasets[which] = _cached_split(ctx, backbone, self.plan, fabric, which, self.half)
            self.nbytes += self.datasets[which].outputs.numel() * self.datasets[which].outputs.element_size()
            if which in self.pending:
                self.pending.remove(which)
        self.seconds += time.perf_counter() - started

    def record(self, epochs: int) -> dict:
        """What the run's summary and the Train page say about it."""
        images = sum(len(d) for d in self.datasets.values())
        return {"stages": list(self.plan.stages), "splits": sorted(k for k, d in self.datasets.items() if len(d)),
                "images": images, "megabytes": round(self.nbytes / 2**20, 1), "seconds": round(self.seconds, 2),
                "training": self.training, "dtype": next((str(d.outputs.dtype)[6:] for d in self.datasets.values()
                                                          if d.outputs is not None and len(d)), "float32"),
                # Each epoch would run the trunk again over the same images: at least this much.
                "saved_s": round(self.seconds * max(epochs - 1, 0), 1)}

    def describe(self, epochs: int) -> str:
        return describe_record(self.record(epochs))


def describe_record(r: dict) -> str:
    """One line on a run's trunk cache from its record (the summary's "trunk_cache")."""
    if "off" in r:
        return r["off"]
    where = "training and evaluation run" if r["training"] else \
        "evaluation runs (training batches are augmented, so they go through every stage)"
    return (f"frozen trunk cached: the output of {', '.join(r['stages'])} for {r['images']} images "
            f"({r['megabytes']} MB {r['dtype']}, computed once in {r['seconds']} s); {where} only the stages "
            f"above it (about {r['saved_s']} s saved)")


def compact(t: torch.Tensor) -> torch.Tensor:
    """float16 where it holds the values (10 bits of mantissa), else bfloat16 (fp32's range)."""
    return t.half() if float(t.abs().max()) < 6e4 else t.bfloat16()


def check_split(backbone: Backbone, plan: TrunkPlan, x: torch.Tensor) -> str | None:
    """Why the trunk cannot be cached, from one real batch, or None: the rest of the body on
    the trunk's output must give the body's output, and the trunk must be deterministic in
    training mode (no dropout or stochastic depth in the frozen stages)."""
    was_training = backbone.training
    try:
        backbone.train()
        in_training = trunk_output(backbone, plan, x)
        backbone.eval()
        cached = trunk_output(backbone, plan, x)
        with torch.no_grad():
            full = backbone.body(x)
            with rest_only(backbone, plan):
                rest = backbone.body(cached)
    finally:
        backbone.train(was_training)
    scale = float(full.abs().max()) + 1e-6
    if rest.shape != full.shape or float((rest - full).abs().max()) > 1e-3 * scale:
        return "the backbone computes something between its stages that the cache cannot skip"
    if float((in_training - cached).abs().max()) > 1e-5 * (float(cached.abs().max()) + 1e-6):
        return "the frozen stages behave differently in training (dropout or stochastic depth)"
    return None


def build_trunk_cache(ctx, backbone: Backbone, fabric, splits: list[str], training: bool, now: list[str],
                      budget: int = MEMORY_BUDGET_BYTES) -> tuple[TrunkCache | None, str]:
    """The trunk cache for ``splits`` (TrainContext names), or None and why not; the outputs
    of the splits in ``now`` are computed at once, the others by ``extend`` when needed."""
    present = [s for s in splits if ctx.has(s)]
    if not present or not backbone.frozen_stages:
        return None, "no frozen stage"
    if backbone.bn_policy == "update":
        return None, "the frozen stages' BatchNorm statistics update (bn_policy update)"
    sample = ctx.preprocess(fabric.to_device(next(stacked_batches(ctx.dataset(present[0]), 8))[0]))
    plan = plan_trunk(backbone, sample)
    if plan is None:
        return None, "the first stage trains"
    problem = check_split(backbone, plan, sample)
    if problem:
        return None, problem
    per_image = trunk_output(backbone, plan, sample[:1]).numel() * 2
    total = per_image * sum(len(ctx.dataset(s)) for s in present)
    if total > budget:
        return None, f"the trunk's output would take {total / 2**20:.0f} MB, over the cache's {budget / 2**20:.0f} MB"
    empty = TrunkOutputs(torch.zeros(0), np.zeros(0, np.int64))
    half = 2 * total > FLOAT32_BYTES
    # float32 training splits fill batch by batch in the first epoch; float16 ones (whose
    # dtype depends on the whole split's range, see compact) are computed now.
    filling = {s: FillingTrunkOutputs(ctx.dataset(s)) for s in present if s in now and not half}
    cache = TrunkCache(plan, {s: empty for s in splits if s not in present} | filling, training, 0.0, 0,
                       half=half, pending=[s for s in present if s not in now])
    cache.extend(ctx, backbone, fabric, [s for s in present if s in now and s not in filling])
    return cache, ""


def _cached_split(ctx, backbone: Backbone, plan: TrunkPlan, fabric, which: str, half: bool) -> TrunkOutputs:
    dataset = ctx.dataset(which)
    outputs = _trunk_outputs(ctx, backbone, plan, fabric, dataset)
    return TrunkOutputs(compact(outputs) if half else outputs, dataset.labels)


def _trunk_outputs(ctx, backbone: Backbone, plan: TrunkPlan, fabric, dataset: Dataset, index=None) -> torch.Tensor:
    """The trunk's outputs (float32, on the CPU) for the images of ``dataset`` (or of ``index``)."""
    return torch.cat([_trunk_batch(backbone, plan, fabric, ctx.preprocess(fabric.to_device(x))).cpu()
                      for x, _ in stacked_batches(dataset, max(ctx.config.batch_size, 64), index)])


@torch.no_grad()
def _trunk_batch(backbone: Backbone, plan: TrunkPlan, fabric, x: torch.Tensor) -> torch.Tensor:
    """The trunk's float32 output for a normalised batch, in eval mode (frozen BatchNorm
    statistics: the same output in every epoch, whichever mode the loop is in)."""
    was_training = backbone.training
    backbone.eval()
    try:
        with fabric.autocast():
            return trunk_output(backbone, plan, x).float()
    finally:
        backbone.train(was_training)


@contextmanager
def trunk_active(ctx, backbone: Backbone, cache: TrunkCache | None, on: bool = True):
    """While active, the run's splits are the cached trunk outputs, preprocessing only turns
    them back to float32, and the body runs above the trunk: any code that computes
    ``backbone(ctx.preprocess(x))`` for ``x`` from ``ctx.dataset(...)`` is right either way."""
    if cache is None or not on or ctx.inputs_override is not None:  # off, or already active
        yield
        return
    preprocess = ctx.preprocess
    ctx.inputs_override, ctx.preprocess, cache.image_preprocess = cache.datasets, TrunkInputs(), preprocess
    try:
        with rest_only(backbone, cache.plan):
            yield
    finally:
        ctx.inputs_override, ctx.preprocess, cache.image_preprocess = None, preprocess, None
