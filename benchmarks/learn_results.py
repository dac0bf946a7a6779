"""The Learn page's stored results: train every lesson's run exactly as "run it yourself"
does (tlcore.lessons, seed 0, on this machine's CPU), and keep what the page reads in
assets/lessons/KEY/ (no checkpoints, no thumbnails: about 0.3 MB a lesson). Also writes
assets/lessons/reference.json, the same methods over 3 seeds from BENCHMARKS.json's
'da-pretrained:full' (mnist -> syndigits), so the page can say how far one seed's result
is from the mean.

    python -m benchmarks.learn_results [--only instance,feature] [--reference-only] [--out assets/lessons]

Measured on 2 CPU cores (2026-12-08): each lesson 20-70 s of wall time (see the page).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout, no install needed

from tlcore.embed.snapshots import layout_pending  # noqa: E402
from tlcore.lessons import lessons  # noqa: E402
from tlcore.run_folder import RunFolder  # noqa: E402
from tlcore.runs import RunStore  # noqa: E402
from tlcore.runs.worker import run_recorded  # noqa: E402

KEEP = (RunFolder.CONFIG, RunFolder.SUMMARY, RunFolder.METRICS, "instance_weights.json")
KEEP_SNAPSHOTS = ("probe.json", "done", "epoch_*.json")
# A lesson's method in BENCHMARKS.json's pretrained grid (the same settings, 3 seeds).
GRID_METHODS = {"instance": "instance weighting", "feature": "MMD", "model": "oracle (all target labels)",
                "adversarial": "DANN"}
GRID_PAIR = "mnist → syndigits"


def train_lesson(key: str, config, work: Path) -> RunFolder:
    store = RunStore(work / "runs")
    run_id = store.create_run(config.replace(device="cpu"), config.name, folder=work / key)
    run_recorded(store, run_id)
    folder = store.get(run_id).files
    wait_for_layouts(folder)
    return folder


def wait_for_layouts(folder: RunFolder, timeout_s: float = 300) -> None:
    """The UMAP layouts and gap numbers come from a process beside the run: wait until every
    snapshot has them (its features file is deleted then)."""
    deadline = time.monotonic() + timeout_s
    while layout_pending(folder.snapshots):
        if time.monotonic() > deadline:
            raise TimeoutError(f"snapshots in {folder.snapshots} still without a layout after {timeout_s} s")
        time.sleep(1)


def keep(folder: RunFolder, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    (out / RunFolder.SNAPSHOTS).mkdir(parents=True)
    for name in KEEP:
        if folder.file(name).exists():
            shutil.copy2(folder.file(name), out / name)
    for pattern in KEEP_SNAPSHOTS:
        for path in folder.snapshots.glob(pattern):
            shutil.copy2(path, out / RunFolder.SNAPSHOTS / path.name)


def reference(benchmarks_json: Path) -> dict:
    """Mean ± std target test accuracy of each lesson's method and of source only over the
    grid's seeds, for the demo pair."""
    entry = json.loads(benchmarks_json.read_text())["da-pretrained:full"]
    accs: dict[str, list[float]] = {}
    changes: dict[str, list[float]] = {}  # after minus before, in points: what each lesson shows for one seed
    for run in entry["runs"]:
        if run["pair"] == GRID_PAIR and run["status"] == "finished":
            accs.setdefault(run["method"], []).append(run["acc"])
            changes.setdefault(run["method"], []).append(100 * (run["acc"] - run["before_acc"]))
    by_seed = {(run["method"], run["seed"]): run["acc"] for run in entry["runs"]
               if run["pair"] == GRID_PAIR and run["status"] == "finished"}
    methods = {}
    for m, a in accs.items():
        # Paired by seed: each seed's method against the same seed's source only, in points.
        paired = [100 * (acc - by_seed[("source only", seed)]) for (method, seed), acc in by_seed.items()
                  if method == m and ("source only", seed) in by_seed]
        methods[m] = {"mean": statistics.mean(a), "std": statistics.stdev(a) if len(a) > 1 else 0.0,
                      "seeds": len(a), "change": statistics.mean(changes[m]),
                      "change_std": statistics.stdev(changes[m]) if len(a) > 1 else 0.0,
                      "vs_source_only": statistics.mean(paired) if paired else None,
                      "vs_source_only_std": statistics.stdev(paired) if len(paired) > 1 else None}
    return {"pair": GRID_PAIR, "command": entry["command"], "date": entry["date"], "methods": methods,
            "lessons": GRID_METHODS}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma list of lesson keys (default: all)")
    parser.add_argument("--out", default=str(ROOT / "assets" / "lessons"))
    parser.add_argument("--reference-only", action="store_true", help="train nothing, only write reference.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    chosen = [lesson for lesson in lessons() if not args.only or lesson.key in args.only.split(",")]
    chosen = [] if args.reference_only else chosen
    with tempfile.TemporaryDirectory(prefix="tlstudio-lessons-") as work:
        for lesson in chosen:
            t0 = time.perf_counter()
            folder = train_lesson(lesson.key, lesson.config(), Path(work))
            keep(folder, out / lesson.key)
            summary = folder.summary() or {}
            print(f"{lesson.key}: {summary.get('status')}, before {summary.get('before.target.test.accuracy')}, "
                  f"after {summary.get('target.test.accuracy')}, {time.perf_counter() - t0:.0f} s", flush=True)
    (out / "reference.json").write_text(json.dumps(reference(ROOT / "BENCHMARKS.json"), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
