"""Replaying a run: a new run from the config.json it recorded, with the same seed and the
same torch thread count. On the same device it ends on the same final metrics (tested on
the CPU, where the loop turns on torch's deterministic algorithms).

What can still make a replay differ is said before it starts (``replay_warnings``) and
after it ends (``compare_final``, ``environment_changes``).
"""
from __future__ import annotations

from ..config import EXTRA_PACKAGES, RunConfig, record_environment
from .scheduler import schedule
from .store import RunStore

# The final numbers a replay is held to (those of the last evaluated epoch).
FINAL = ("target.test.accuracy", "target.test.macro_recall", "target.test.macro_f1", "target.val.accuracy",
         "before.target.test.accuracy")
# What the environment records that can change a run's numbers. The platform string names
# the kernel too, which changes with every update and says nothing about the result.
COMPARED = ("python", "torch", "torchvision", "timm", "numpy", *EXTRA_PACKAGES, "git_commit", "git_diff_sha256",
            "torch_threads")
# Names as a reader says them, where the key is not already one.
SHOWN = {"git_commit": "git commit", "git_diff_sha256": "uncommitted changes (hash)", "torch_threads": "torch threads"}


def recorded_config(store: RunStore, run_id: str) -> RunConfig:
    """The config as the run recorded it: its folder's config.json, which carries the
    environment it ran in; else the store's copy (a run that failed before writing one)."""
    run = store.get(run_id)
    try:
        return run.files.config()
    except (OSError, ValueError):
        return run.config


def replay_config(store: RunStore, run_id: str) -> RunConfig:
    """The config for a replay: the recorded one with the thread count pinned to what the
    original ran with (on the CPU, 1 and 2 threads end on different weights), a fresh
    environment (the replay records its own) and the name "replay of ..."."""
    return as_replay(recorded_config(store, run_id), name=f"replay of {store.get(run_id).name}")


def as_replay(config: RunConfig, name: str | None = None) -> RunConfig:
    """A recorded config made ready to run again: threads pinned to the recorded count, the
    old environment dropped (the new run records its own), optionally a new name."""
    threads = config.threads or int(config.environment.get("torch_threads") or 0)
    return config.replace(threads=threads, environment={}, name=config.name if name is None else name)


def environment_changes(before: dict, after: dict) -> list[str]:
    """'torch 2.14.0 → 2.14.1' for each compared entry that differs; nothing when either
    side recorded no environment."""
    if not before or not after:
        return []
    return [f"{SHOWN.get(key, key)} {before.get(key)} → {after.get(key)}" for key in COMPARED
            if key in before and key in after and before.get(key) != after.get(key)]


def replay_warnings(store: RunStore, run_id: str) -> list[str]:
    """Why a replay of ``run_id`` started here may not match it."""
    return config_warnings(recorded_config(store, run_id), (store.get(run_id).summary or {}).get("device"))


def config_warnings(config: RunConfig, ran_on: str | None = None) -> list[str]:
    """Why a run of a recorded ``config`` (which ran on ``ran_on``) may not match it here:
    other library versions or code, another device, no recorded environment or thread
    count, or a device on which the loop is not deterministic."""
    from ..devices import resolve_device
    recorded = config.environment
    warnings = []
    if not recorded:
        warnings.append("the run recorded no environment (it ended before training started): library versions "
                        "and code cannot be compared")
    else:
        here = dict(record_environment(), torch_threads=recorded.get("torch_threads"))  # pinned by the replay
        changes = environment_changes(recorded, here)
        if changes:
            warnings.append("the environment differs from the original's, so the metrics may too: "
                            + "; ".join(changes))
        if not config.threads and "torch_threads" not in recorded:
            warnings.append("the original's thread count was not recorded (an older run): on the CPU a replay "
                            "with another thread count ends on other weights")
    device = resolve_device(config.device)
    if ran_on and ran_on != device:
        warnings.append(f"the original ran on {ran_on}, a replay here runs on {device}: the metrics will differ")
    if device != "cpu":
        warnings.append(f"on {device} the training loop does not force deterministic kernels (only on the CPU): "
                        "expect small differences")
    return warnings


def replay(store: RunStore, run_id: str, owner: str = "") -> str:
    """Queue a replay of ``run_id`` as a new run (``replay_of`` set) and start it if a slot
    is free; returns the new run's id. The replay is ``owner``'s (who asked for it), not
    necessarily the original's."""
    config = replay_config(store, run_id)
    new_id = store.create_run(config, config.name, replay_of=run_id, owner=owner)
    schedule(store)
    return new_id


def compare_final(original: dict | None, replayed: dict | None) -> list[dict]:
    """One row per final metric: {metric, original, replay, difference}; the difference is
    None where either side lacks the number."""
    original, replayed = original or {}, replayed or {}
    rows = []
    for key in FINAL:
        a, b = original.get(key), replayed.get(key)
        if a is None and b is None:
            continue
        rows.append({"metric": key, "original": a, "replay": b,
                     "difference": None if a is None or b is None else b - a})
    return rows


def identical(rows: list[dict]) -> bool:
    """True when every final metric is there on both sides and exactly equal: the scores are
    fractions of image counts, so a faithful replay gives the same floats, not close ones."""
    return bool(rows) and all(r["difference"] == 0 for r in rows)


def replay_report(store: RunStore, replay_id: str) -> dict | None:
    """How a finished replay compares with its original: the metric rows, whether they are
    identical and what changed in the recorded environments; None for a run that is not a
    replay (or whose original was deleted)."""
    run = store.get(replay_id)
    original_id = run.replay_of
    if not original_id:
        return None
    try:
        original = store.get(original_id)
    except KeyError:
        return None
    rows = compare_final(original.summary, run.summary)
    return {"original": original_id, "replay": replay_id, "rows": rows, "identical": identical(rows),
            "environment": environment_changes(recorded_config(store, original_id).environment,
                                               recorded_config(store, replay_id).environment)}
