"""What the benchmark sections share: the machine they ran on, training runs fanned out
over worker processes, mean ± std over seeds, and the domain-gap numbers of a model.

Runs go through the real engine (``tlcore.train.train``) with fixed settings: the
benchmark chooses nothing by looking at target test labels.
"""
from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import numpy as np


def cpu_model() -> str:
    try:
        return next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def cpu_isa() -> str | None:
    """The widest vector extension the CPU reports: machines with one model name differ here
    (bf16 autocast is 20x slower than fp32 on AVX2, as fast on AVX-512 BF16)."""
    try:
        flags = set(next(ln for ln in open("/proc/cpuinfo") if ln.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        return None
    return next((name for flag, name in (("amx_bf16", "AMX BF16"), ("avx512_bf16", "AVX-512 BF16"),
                                         ("avx512f", "AVX-512"), ("avx2", "AVX2")) if flag in flags), None)


def machine() -> dict[str, Any]:
    import torch
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu_model(), "isa": cpu_isa(), "cores": os.cpu_count(), "gpu": gpu, "torch": torch.__version__,
            "python": platform.python_version()}


# ---- training runs in worker processes

def _init_worker(threads: int) -> None:
    import torch
    torch.set_num_threads(threads)


def run_job(job: dict) -> dict:
    """One training run: ``job['config']`` (a RunConfig dict) plus ``job['meta']`` copied
    into the result; ``job['gap']``: also measure the domain gap of the trained features."""
    from tlcore.config import RunConfig
    from tlcore.train import train
    config = RunConfig.from_dict(job["config"])
    t0 = time.perf_counter()
    result = _search(config) if config.search_budget_s > 0 else train(config)
    s = result.summary
    row = {**job["meta"], "status": s["status"], "error": s.get("error"),
           "acc": s.get("target.test.accuracy"), "f1": s.get("target.test.macro_f1"),
           "val_acc": s.get("target.val.accuracy"),
           "source_acc": s.get("source.test.accuracy"), "before_acc": s.get("before.target.test.accuracy"),
           "train_s": s.get("train_time_s"), "wall_s": round(time.perf_counter() - t0, 1)}
    if "search" in s:
        row["winner"], row["search_s"] = s["search"]["winner"], s["search"]["seconds"]
        row["candidates"] = s["search"]["candidates"]
    if job.get("history"):  # every evaluated epoch's target accuracies and label-free validators
        keep = ("target.test.accuracy", "target.val.accuracy", "source.val.accuracy")
        row["history"] = [{k: v for k, v in h.items() if k in keep or k.startswith("validators.") or k == "epoch"}
                          for h in result.history]
        row["twin"] = {k[len("twin."):]: v for k, v in s.items() if k.startswith("twin.")}
    if job.get("gap") and s["status"] == "finished":
        row["gap"] = trained_gap(config, result.strategy, job["gap"])
    return row


def _search(config):
    """A recipe search as the dashboard runs it (tlcore.runs.search_run), in a scratch folder."""
    import tempfile

    from tlcore.run_folder import RunFolder
    from tlcore.runs.search_run import run_search
    with tempfile.TemporaryDirectory(prefix="tlstudio-bench-search-") as folder:
        return run_search(config, RunFolder(folder), [], None)


# Set by ``bench --rerun REGEX``: only jobs whose label matches REGEX run; the others keep
# their stored rows (e.g. one method again after a fix, without the rest of an hour's grid).
RERUN: dict[str, Any] = {"text": None, "stored": []}


def run_jobs(jobs: list[dict], workers: int, log=print) -> list[dict]:
    """Run ``jobs`` over ``workers`` spawned processes (each with cores // workers torch
    threads and a passive OpenMP wait policy, so they do not steal each other's cores)."""
    if RERUN["text"]:
        stored = {r["label"]: r for r in RERUN["stored"]}
        keep = {j["meta"]["label"]: stored[j["meta"]["label"]] for j in jobs
                if not re.search(RERUN["text"], j["meta"]["label"]) and j["meta"]["label"] in stored}
        fresh = _run_pool([j for j in jobs if j["meta"]["label"] not in keep], workers, log)
        by_label = {**keep, **{r["label"]: r for r in fresh}}
        return [by_label[j["meta"]["label"]] for j in jobs]
    return _run_pool(jobs, workers, log)


def _run_pool(jobs: list[dict], workers: int, log) -> list[dict]:
    if not jobs:
        return []
    workers = max(1, min(workers, len(jobs)))
    threads = max(1, (os.cpu_count() or 1) // workers)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read by each worker's OpenMP at import
    rows, t0 = [], time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                             initargs=(threads,)) as pool:
        for i, row in enumerate(pool.map(run_job, jobs), 1):
            rows.append(row)
            acc = "-" if row["acc"] is None else f"{row['acc']:.3f}"
            log(f"  [{i}/{len(jobs)} {time.perf_counter() - t0:.0f} s] {row.get('label', '')} acc {acc} "
                f"({row['wall_s']} s){' ' + row['error'] if row.get('error') else ''}")
    return rows


# ---- statistics

def mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None, int]:
    v = [float(x) for x in values if x is not None and not np.isnan(x)]
    if not v:
        return None, None, 0
    return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else None), len(v)


def fmt_ms(values: Iterable[float | None], scale: float = 100.0, digits: int = 1) -> str:
    """'73.2 ± 1.4' (percent by default); '73.2' from one value; '-' from none."""
    m, s, n = mean_std(values)
    if m is None:
        return "-"
    return f"{m * scale:.{digits}f}" + (f" ± {s * scale:.{digits}f}" if s is not None else "")


def group(rows: list[dict], *keys: str) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


# ---- domain gap (A-distance, MMD²) of a model's source and target features

def _probe(config, per_domain: int):
    """The stratified source and target test probe the map uses, for this config's data."""
    from tlcore.data.run_data import prepare_data
    from tlcore.embed.probe import probe_sets
    return probe_sets(prepare_data(config, False), per_domain, config.seed)


def _features(module, config, parts) -> list[np.ndarray]:
    from tlcore.backbones import backbone_info
    from tlcore.data.pipeline import BatchPreprocess, ResizedImages
    from tlcore.features import extract_features
    info = backbone_info(config.model.backbone)
    size = config.data.image_size or info.input_size
    preprocess = BatchPreprocess(info.mean, info.std)
    return [extract_features(module(domain), ResizedImages(images, size, index, labels), preprocess).numpy()
            for domain, images, index, labels in parts]


def _gap(feats, seed) -> dict:
    from tlcore.embed.gap import mmd2, proxy_a_distance
    f_t, f_s = feats
    return {"a_distance": round(proxy_a_distance(f_s, f_t, seed), 3), "mmd": round(mmd2(f_s, f_t, seed=seed), 3)}


def initial_gap(config, per_domain: int) -> dict:
    """The gap as the untrained network sees it (pretrained weights, or the seed's random init)."""
    import torch

    from tlcore.backbones import create_backbone
    parts = _probe(config, per_domain)
    torch.manual_seed(config.seed)
    model = create_backbone(config.model.backbone, config.model.weights, num_classes=len(parts[0][1].class_names))
    model.eval()
    with torch.no_grad():
        return _gap(_features(lambda domain: model, config, parts), config.seed)


def trained_gap(config, strategy, per_domain: int) -> dict:
    """The gap of the trained model's features (the target through AdaBN's target copy)."""
    import torch
    parts = _probe(config, per_domain)
    strategy.eval()
    with torch.no_grad():
        return _gap(_features(strategy.eval_model, config, parts), config.seed)
