"""2-D layouts of probe features, and the process that computes them beside training:
``python -m tlcore.embed.layout SNAPSHOT_FOLDER --parent PID``.

The training loop writes each snapshot's features and a PCA layout (instant); this
process turns them into a UMAP layout and the domain-gap numbers, so neither the loop
nor the dashboard ever waits for UMAP. Three things keep it fast and the maps stable:

  * numba's compiled code is cached on disk (umap-learn does not ask for it; we switch it
    on for its functions, in the folder the job recipe names: tlcore.jobs.environment), so
    only the first process on a machine pays the 20-30 s compile;
  * nearest neighbours come from scikit-learn: below 4,096 points umap-learn computes all
    pairwise distances through a Python callback (5 s for 2,000 points here; this: 0.1 s);
  * each layout starts from the previous one and is then rotated, scaled and shifted onto
    it (orthogonal Procrustes), so points move only as much as the features did.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ..atomic import write_json
from ..jobs import JobKind, register_job_kind, spawn
from .gap import knn_accuracy, mmd2, proxy_a_distance
from .snapshots import features_path, is_done, read_probe, read_snapshot, snapshot_epochs, snapshot_path

# Light: one thread at low priority beside the run it lays out, outside the cap.
KIND = register_job_kind(JobKind("layout", "tlcore.embed.layout", "UMAP layouts of a run's feature snapshots",
                                 heavy=False, threads=1))

N_NEIGHBORS = 15
PCA_DIMS = 50
REFINE_EPOCHS = 200  # from the previous layout
# A fresh layout (a run's first snapshot) from the spectral start. umap-learn's default is
# 500 epochs below 10,000 points; 84% of a fresh layout's time is that SGD, and the
# speed-umap benchmark measures what fewer epochs cost in trustworthiness.
FRESH_EPOCHS = 250


def enable_numba_cache() -> int:
    """Turn on numba's on-disk cache for umap-learn's compiled functions; returns how many
    (0 once done: a dispatcher keeps its cache for the life of the process)."""
    import umap.layouts
    import umap.umap_
    import umap.utils
    from numba.core.registry import CPUDispatcher
    count = 0
    for module in (umap.umap_, umap.layouts, umap.utils):
        for obj in vars(module).values():
            if isinstance(obj, CPUDispatcher) and type(obj._cache).__name__ == "NullCache":
                obj.enable_caching()
                count += 1
    return count


def reduce(features: np.ndarray, dims: int = PCA_DIMS) -> np.ndarray:
    """PCA to at most ``dims`` dimensions: the input of the neighbour graph."""
    from sklearn.decomposition import PCA
    x = np.asarray(features, dtype=np.float32)
    k = min(dims, x.shape[0] - 1, x.shape[1])
    return PCA(k, random_state=0).fit_transform(x).astype(np.float32) if k >= 2 else x


def pca_layout(features: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """A 2-D PCA layout, aligned to ``previous`` when given (PCA's axes flip freely)."""
    xy = reduce(features, 2)
    if xy.shape[1] < 2:
        xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
    return align(xy, previous)


def align(xy: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    """``xy`` rotated, uniformly scaled and shifted to lie as close to ``reference`` as it can."""
    from scipy.linalg import orthogonal_procrustes
    if reference is None or len(reference) != len(xy) or len(xy) < 3:
        return xy
    a, b = xy - xy.mean(0), reference - reference.mean(0)
    rotation, scale = orthogonal_procrustes(a, b)
    return (a @ rotation * (scale / max(float((a ** 2).sum()), 1e-12)) + reference.mean(0)).astype(np.float32)


def disparity(a: np.ndarray, b: np.ndarray) -> float:
    """Procrustes disparity of two layouts of the same points: 0 same shape, 1 unrelated."""
    from scipy.spatial import procrustes
    return float(procrustes(np.asarray(a, np.float64), np.asarray(b, np.float64))[2])


def umap_layout(features: np.ndarray, previous: np.ndarray | None = None, seed: int | None = None,
                n_epochs: int | None = None) -> np.ndarray:
    """A UMAP layout of ``features``, refined from ``previous`` (and aligned to it) if given;
    ``n_epochs`` overrides REFINE_EPOCHS / FRESH_EPOCHS."""
    import umap
    from sklearn.neighbors import NearestNeighbors
    enable_numba_cache()
    x = reduce(features)
    k = min(N_NEIGHBORS, len(x) - 1)
    distances, indices = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(x)
    start = previous is not None and len(previous) == len(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "precomputed_knn without a search index", "n_jobs overridden"
        reducer = umap.UMAP(n_neighbors=k, n_components=2, random_state=seed,
                            precomputed_knn=(indices, distances.astype(np.float32), None),
                            init=np.asarray(previous, dtype=np.float32) if start else "spectral",
                            n_epochs=n_epochs or (REFINE_EPOCHS if start else FRESH_EPOCHS))
        xy = reducer.fit_transform(x).astype(np.float32)
    return align(xy, previous if start else None)


def gap_numbers(features: np.ndarray, domain: np.ndarray, label: np.ndarray, seed: int = 0) -> dict:
    """The domain-gap numbers of one snapshot; only k-NN accuracy when there is no source."""
    f = np.asarray(features, dtype=np.float32)
    is_s, is_t = domain == "source", domain == "target"
    out = {"knn_target": knn_accuracy(f[is_t], label[is_t])}
    if is_s.sum() >= 5 and is_t.sum() >= 5:
        out.update(a_distance=proxy_a_distance(f[is_s], f[is_t], seed), mmd=mmd2(f[is_s], f[is_t], seed=seed),
                   knn_source=knn_accuracy(f[is_s], label[is_s]))
    return {k: (None if v != v else round(float(v), 4)) for k, v in out.items()}  # NaN -> null in JSON


def warm_up() -> float:
    """Load (or, the first time on a machine, compile) umap's numba code on a tiny problem."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 1.0, (60, 8)) for c in range(5)]).astype(np.float32)
    umap_layout(x, umap_layout(x))
    return time.perf_counter() - t0


def _previous_layout(folder: Path, epoch: int) -> np.ndarray | None:
    for e in reversed([e for e in snapshot_epochs(folder) if e < epoch]):
        snap = read_snapshot(folder, e)
        if snap and snap.get("umap") is not None:
            return np.asarray(snap["umap"], dtype=np.float32)
    return None


def process_pending(folder: Path, log=print) -> int:
    """Compute the UMAP layout and gap numbers of every snapshot that has features but no
    layout yet, oldest first; returns how many it did."""
    folder = Path(folder)
    # Called five times a second while idle: only a features file means work, so nothing
    # else (the probe, every snapshot's JSON) is read until one is there.
    pending = [e for e in snapshot_epochs(folder) if features_path(folder, e).exists()]
    probe = read_probe(folder) if pending else None
    if probe is None:
        return 0
    domain, label = np.asarray(probe["domain"]), np.asarray(probe["label"])
    done = 0
    for epoch in pending:
        snap, path = read_snapshot(folder, epoch), features_path(folder, epoch)
        if snap is None or snap.get("umap") is not None or not path.exists():
            continue
        t0 = time.perf_counter()
        features = np.load(path, allow_pickle=False).astype(np.float32)
        previous = _previous_layout(folder, epoch)
        xy = umap_layout(features, previous)
        t1 = time.perf_counter()
        snap.update(umap=np.round(xy, 3).tolist(), layout_seconds=round(t1 - t0, 3),
                    disparity=None if previous is None else round(disparity(previous, xy), 4),
                    gap=gap_numbers(features, domain, label))
        snap["gap_seconds"] = round(time.perf_counter() - t1, 3)
        write_json(snapshot_path(folder, epoch), snap)
        path.unlink(missing_ok=True)  # the layout and numbers are what is kept
        log(f"epoch {epoch}: UMAP of {len(xy)} points in {snap['layout_seconds']:.2f} s, "
            f"gap numbers in {snap['gap_seconds']:.2f} s", flush=True)
        done += 1
    return done


def _alive(pid: int | None) -> bool:
    if not pid:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_layout_process(folder: Path, parent: int | None = None):
    """Start ``python -m tlcore.embed.layout`` for ``folder`` in the background; its output
    goes to folder/layout.log. Returns the Popen."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return spawn(KIND.name, [str(folder), "--parent", str(parent or os.getpid())], folder / "layout.log")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlcore.embed.layout")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--parent", type=int, help="exit once this process is gone and nothing is pending")
    parser.add_argument("--once", action="store_true", help="lay out what is pending, then exit")
    args = parser.parse_args(argv)
    try:
        os.nice(10)  # training and the dashboard come first
    except OSError:
        pass
    print(f"layout: numba warm in {warm_up():.1f} s (cache {os.environ.get('NUMBA_CACHE_DIR', 'numba default')})",
          flush=True)
    idle_since = time.monotonic()
    while True:
        if process_pending(args.folder):
            idle_since = time.monotonic()
            continue
        if args.once or is_done(args.folder) or not _alive(args.parent):
            process_pending(args.folder)  # whatever arrived with the last word
            return 0
        if time.monotonic() - idle_since > 6 * 3600:
            return 0  # a run that went silent for hours without saying it ended
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
