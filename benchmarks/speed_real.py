"""Speed on a real workload: the trainer against the torchvision tutorial's loop on the whole
clipart domain at 160 px and on 2,000 Fashion-MNIST images, with the backbone frozen, the
last stage and the last two stages trained. Same model (efficientnet_lite0, ImageNet),
weights, trainable stages, optimiser (AdamW 1e-3, constant), batch 32, epochs and seed.

Each run is a fresh process (spawned, all the machine's cores), the two loops alternated, so
neither inherits the other's warm caches; times run from the call (data loading and model
creation included) and peak memory is the process's resident maximum. The trainer runs as
a user's run does: the frozen-trunk cache, the kernel layout chosen for this CPU, the
before-transfer probe and every split evaluated every epoch.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import resource
import tempfile
from pathlib import Path

from .speed import time_to, tlstudio_run, tutorial_loop, write_image_folder
from .suite import section

# label: (built-in domain, images a class (None: all), image size)
DATASETS = {"full": {"clipart, all 603 images, 160 px": ("clipart", None, 160),
                     "Fashion-MNIST, 2,000 images, 64 px": ("fashion", 200, 64)},
            "quick": {"clipart, 20 a class, 96 px": ("clipart", 20, 96)}}
FREEZES = {"frozen backbone": "all", "last stage trained": "last:1", "last two stages trained": "last:2"}
EPOCHS = {"full": 10, "quick": 2}
# A comma list of freeze specs to measure (default: all of FREEZES). gpu_check.sh's CPU mode,
# a runnability check in the test suite, measures one plan, not three.
FREEZES_ENV = "TLSTUDIO_SPEED_REAL_FREEZES"


def chosen_freezes() -> dict[str, str]:
    wanted = [f.strip() for f in os.environ.get(FREEZES_ENV, "").split(",") if f.strip()]
    return {label: spec for label, spec in FREEZES.items() if not wanted or spec in wanted}
GOALS = {"all": 10.0, "last:1": 3.0}  # the speed-up goals (time to the same val accuracy)


def _child(queue, which: str, root: str, freeze: str, epochs: int, size: int) -> None:
    try:
        run = tlstudio_run if which == "tlstudio" else tutorial_loop
        result = run(Path(root), freeze, epochs, 0, size)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        queue.put(result)
    except Exception as exc:  # noqa: BLE001 - reported in the parent
        queue.put({"error": repr(exc)})


def in_fresh_process(which: str, root: Path, freeze: str, epochs: int, size: int) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, which, str(root), freeze, epochs, size))
    proc.start()
    result = queue.get()
    proc.join()
    if "error" in result:
        raise RuntimeError(f"{which} {freeze}: {result['error']}")
    return result


def compare(root: Path, freeze: str, epochs: int, size: int) -> dict:
    plain = in_fresh_process("plain", root, freeze, epochs, size)
    ours = in_fresh_process("tlstudio", root, freeze, epochs, size)
    goal = min(ours["curve"][-1][1], plain["curve"][-1][1])  # the val accuracy both runs reach
    t_ours, t_plain = time_to(ours["curve"], goal), time_to(plain["curve"], goal)
    return {"tlstudio": ours, "plain": plain, "common_val_accuracy": goal, "time_to_ours": t_ours,
            "time_to_plain": t_plain, "speedup": t_plain / t_ours, "total_ratio": plain["total_s"] / ours["total_s"]}


def _row(data: str, label: str, freeze: str, r: dict) -> list:
    ours, plain = r["tlstudio"], r["plain"]
    goal = GOALS.get(freeze)
    verdict = "" if goal is None else f" ({'met' if r['speedup'] >= goal else 'MISSED'}: goal ≥ {goal:g}x)"
    trunk = ours.get("trunk_cache") or {}
    cache = "features" if ours["cached"] else ("trunk: " + trunk["stages"][-1] + " and below") \
        if trunk.get("stages") else "none"
    return [data, label, f"{100 * r['common_val_accuracy']:.1f}", f"{r['time_to_ours']:.1f} s",
            f"{r['time_to_plain']:.1f} s", f"**{r['speedup']:.1f}x**{verdict}",
            f"{ours['total_s']:.1f} s / {plain['total_s']:.1f} s ({r['total_ratio']:.1f}x)",
            f"{100 * ours['test_acc']:.1f} / {100 * plain['test_acc']:.1f}",
            f"{ours['peak_mb']:.0f} / {plain['peak_mb']:.0f} MB", cache]


@section("speed-real", "A real workload: the trainer vs the tutorial loop at 160 px", quick_budget_s=240)
def run(mode: str, jobs: int, log) -> dict:
    epochs, rows, raw = EPOCHS[mode], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for data, (domain, per_class, size) in DATASETS[mode].items():
            root = write_image_folder(Path(tmp) / domain, domain, per_class, ext="png")
            for label, freeze in chosen_freezes().items():
                r = compare(root, freeze, epochs, size)
                raw[f"{data} / {label}"] = r
                log(f"  {data}, {label}: {r['speedup']:.1f}x to {100 * r['common_val_accuracy']:.1f}% val, "
                    f"totals {r['tlstudio']['total_s']:.1f} s / {r['plain']['total_s']:.1f} s")
                rows.append(_row(data, label, freeze, r))
    first = next(iter(raw.values()))["tlstudio"]
    return {"tables": [{"title": f"efficientnet_lite0 ImageNet, AdamW 1e-3 constant, batch 32, {epochs} epochs, "
                                 f"seed 0, fp32 on the CPU (TL Studio's layout: {first['memory_format']}); "
                                 "70/15/15 split folders of PNG files",
                        "columns": ["data", "backbone", "val acc. both reach (%)", "TL Studio: time to it",
                                    "tutorial loop: time to it", "speed-up", "total (ours / tutorial)",
                                    "test acc. (ours / tutorial, %)", "peak memory (ours / tutorial)",
                                    "TL Studio cached"], "rows": rows}],
            "notes": [f"Time to it: from the call to the end of the first epoch whose validation accuracy reaches the "
                      "lower of the two runs' final ones. A frozen backbone's head is fitted to its optimum by "
                      f"L-BFGS in TL Studio (one step), by {epochs} AdamW epochs in the tutorial loop.",
                      "The tutorial loop lets the frozen stages' BatchNorm statistics move (requires_grad=False "
                      "only), as the tutorial does; TL Studio keeps them, as its default policy says."],
            "raw": raw}
