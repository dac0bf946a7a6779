"""The feature-map files of a run (or of a pretrained view), in RUN/snapshots/:

  probe.json            the fixed probe set: domain, class, image id and instance weight
                        of every point, and the class names;
  probe_thumbs.npy      a 32 px thumbnail of every probe image (uint8, N x 32 x 32 x 3);
  epoch_0003.json       one snapshot: the probe's predictions, a PCA layout at once, the
                        UMAP layout and the domain-gap numbers once the layout process
                        has computed them;
  epoch_0003.features.npy  the pooled features (float16) until the layout is computed;
  done                  written when the run writes no more snapshots.

Plain JSON and .npy (loaded with allow_pickle=False): the dashboard reads them while the
worker writes, so every file is replaced atomically.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from ..atomic import save_npy, write_text

THUMB_PX = 32
SNAPSHOT = re.compile(r"epoch_(\d{4})\.json")


def snapshot_path(folder: Path, epoch: int) -> Path:
    return Path(folder) / f"epoch_{epoch:04d}.json"


def features_path(folder: Path, epoch: int) -> Path:
    return Path(folder) / f"epoch_{epoch:04d}.features.npy"


def write_probe(folder: Path, probe: dict, thumbs: np.ndarray) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_npy(folder / "probe_thumbs.npy", thumbs)
    write_text(folder / "probe.json", json.dumps(probe))


def read_probe(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / "probe.json").read_text())
    except (OSError, ValueError):
        return None


def read_thumbs(folder: Path) -> np.ndarray | None:
    try:
        return np.load(Path(folder) / "probe_thumbs.npy", allow_pickle=False)
    except (OSError, ValueError):
        return None


def write_snapshot(folder: Path, snapshot: dict, features: np.ndarray | None = None) -> None:
    """A new snapshot; its features (if given) are written first, for the layout process."""
    if features is not None:
        save_npy(features_path(folder, snapshot["epoch"]), features.astype(np.float16))
    write_text(snapshot_path(folder, snapshot["epoch"]), json.dumps(snapshot))


def snapshot_epochs(folder: Path) -> list[int]:
    folder = Path(folder)
    names = os.listdir(folder) if folder.is_dir() else []
    return sorted(int(m.group(1)) for m in map(SNAPSHOT.fullmatch, names) if m)


def read_snapshot(folder: Path, epoch: int) -> dict | None:
    try:
        return json.loads(snapshot_path(folder, epoch).read_text())
    except (OSError, ValueError):
        return None


def read_snapshots(folder: Path) -> list[dict]:
    """Every readable snapshot, oldest first."""
    return [s for s in (read_snapshot(folder, e) for e in snapshot_epochs(folder)) if s is not None]


def signature(folder: Path) -> tuple:
    """Changes whenever a snapshot is added or its layout arrives: a cheap cache key."""
    folder = Path(folder)
    out = []
    for e in snapshot_epochs(folder):
        try:
            out.append((e, snapshot_path(folder, e).stat().st_mtime_ns))
        except OSError:
            pass
    return tuple(out)


def is_done(folder: Path) -> bool:
    return (Path(folder) / "done").exists()


def coordinates(snapshot: dict) -> tuple[np.ndarray, str]:
    """The best layout a snapshot has: (N x 2 coordinates, 'umap' or 'pca')."""
    if snapshot.get("umap") is not None:
        return np.asarray(snapshot["umap"], dtype=np.float32), "umap"
    return np.asarray(snapshot["pca"], dtype=np.float32), "pca"


def layout_pending(folder: Path, within_s: float = 600.0) -> bool:
    """Whether a snapshot still waits for its UMAP layout (its features file is there and
    recent: one older than ``within_s`` means the layout process is gone)."""
    import time
    folder = Path(folder)
    now = time.time()
    for path in folder.glob("epoch_*.features.npy") if folder.is_dir() else ():
        try:
            if now - path.stat().st_mtime < within_s:
                return True
        except OSError:
            pass
    return False
