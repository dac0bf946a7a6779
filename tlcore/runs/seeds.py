"""Seed groups: one config run with n seeds (s, s+1, ...), so that a difference between two
methods can be held against the spread the seed alone causes.

A seed changes everything random in a run: the images drawn per class, the train/val/test
split, the new head's initial weights and the batch order. A group is n ordinary runs that
share ``group_id`` (the first run's id) in the store; they queue like any run, so under the
job cap (one at a time on a CPU, where two trainings side by side are slower than in turn)
they run one after another.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..run_record import RunRecord
from .scheduler import schedule, submit
from .store import NEW_GROUP, RunStore

SCORES = ("accuracy", "macro_recall", "macro_f1")
MAX_SEEDS = 20


def seed_configs(config, n: int) -> list:
    """``config`` with seeds s, s+1, ..., s+n-1 (s: its own seed)."""
    return [config.replace(seed=config.seed + k) for k in range(n)]


def seed_name(name: str, seed: int) -> str:
    return f"{name} · seed {seed}"


def check_seeds(n: int) -> None:
    if not 1 <= n <= MAX_SEEDS:
        raise ValueError(f"seeds must be between 1 and {MAX_SEEDS}, not {n}")


def submit_seeds(store: RunStore, config, n: int, name: str = "", owner: str = "") -> list[str]:
    """Queue ``n`` runs of ``config`` as one seed group and start what the job cap allows;
    each worker starts the next queued run as it ends. One seed: a plain run, no group."""
    check_seeds(n)
    if n == 1:
        return [submit(store, config, name, owner=owner)]
    base = name or config.name or config.strategy.name
    ids: list[str] = []
    for cfg in seed_configs(config, n):
        ids.append(store.create_run(cfg, seed_name(base, cfg.seed), group=ids[0] if ids else NEW_GROUP, owner=owner))
    schedule(store)
    return ids


@dataclass(frozen=True)
class Spread:
    """One score over a group's runs. ``std`` is the sample standard deviation (n - 1 in the
    denominator): the spread another seed would likely show; None with one run."""
    mean: float
    std: float | None
    low: float
    high: float
    n: int

    def text(self, percent: bool = True, with_n: bool = True) -> str:
        """'71.2% ± 2.3 (n=3)': the ± in percentage points, as a reader compares them."""
        mean = f"{self.mean * 100:.1f}%" if percent else f"{self.mean:.3g}"
        n = f" (n={self.n})" if with_n else ""
        if self.std is None:
            return mean + n
        std = f"{self.std * 100:.1f}" if percent else f"{self.std:.2g}"
        return f"{mean} ± {std}{n}"


def spread(values) -> Spread | None:
    values = [float(v) for v in values if v is not None]
    if not values:
        return None
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return Spread(mean, std, min(values), max(values), n)


def group_scores(summaries: list[dict | None]) -> dict[str, Spread]:
    """Mean ± std of the target test scores (after and before transfer) over the finished
    runs' summaries; keys as in a summary (``target.test.accuracy``, ...)."""
    done = [s for s in summaries if s and s.get("status") == "finished"]
    out = {}
    for prefix in ("target.test.", "before.target.test."):
        for name in SCORES:
            s = spread(d.get(prefix + name) for d in done)
            if s is not None:
                out[prefix + name] = s
    return out


@dataclass(frozen=True)
class SeedGroup:
    id: str
    runs: list[RunRecord]  # lowest seed first
    scores: dict[str, Spread]  # over the finished runs

    @property
    def n(self) -> int:
        return len(self.runs)

    def count(self, *statuses: str) -> int:
        return sum(r.status in statuses for r in self.runs)

    def progress_text(self) -> str:
        """'3 seeds: 1 finished, 1 running, 1 queued'."""
        parts = [f"{self.count(s)} {s}" for s in ("finished", "running", "stopping", "queued", "stopped", "failed")
                 if self.count(s)]
        return f"{self.n} seeds: " + ", ".join(parts)


def seed_group(store: RunStore, run_or_group_id: str) -> SeedGroup | None:
    """The group a run belongs to, or the group of that id (its first run may be deleted);
    None for a run without one. KeyError when the id names neither."""
    runs = store.group_runs(run_or_group_id)
    if not runs:
        group_id = store.get(run_or_group_id).group_id  # KeyError for an unknown id
        runs = store.group_runs(group_id) if group_id else []
    if not runs:
        return None
    return SeedGroup(runs[0].group_id, runs, group_scores([r.summary for r in runs]))


def versus_noise(a: Spread, b: Spread, label_a: str = "A", label_b: str = "B") -> str:
    """Whether the difference between two groups' means is larger than their seed noise.

    The rule: the difference over its standard error, sqrt(std_a²/n_a + std_b²/n_b) (Welch's
    t statistic). Beyond 2 it is unlikely to come from the seeds alone; with 3 seeds a group
    this is a rough guide, not a test at a stated level."""
    diff = (a.mean - b.mean) * 100
    head = f"{label_a} − {label_b}: {diff:+.1f} points"
    if a.std is None or b.std is None:
        single = " and ".join(x for x, s in ((label_a, a), (label_b, b)) if s.std is None)
        return f"{head}. No seed noise known for {single} (one run): start it with several seeds to tell."
    se = math.sqrt(a.std ** 2 / a.n + b.std ** 2 / b.n) * 100
    noise = f"seed std {a.std * 100:.1f} ({label_a}, n={a.n}) and {b.std * 100:.1f} ({label_b}, n={b.n})"
    if se == 0:
        verdict = "larger than seed noise (the seeds did not vary)" if diff else "no difference at all"
        return f"{head}; {noise}: {verdict}."
    ratio = abs(diff) / se
    verdict = "larger than seed noise" if ratio > 2 else "within seed noise"
    return f"{head}; {noise}: the difference is {ratio:.1f} standard errors, {verdict} (rule: more than 2)."


def group_name(runs: list[dict]) -> str:
    """The group's name: its first run's, without the ' · seed N' that tells the runs apart."""
    name = runs[0].name if runs else ""
    return name.rsplit(" · seed ", 1)[0]


def compare_items(runs: list[RunRecord]) -> dict[str, list[RunRecord]]:
    """Runs as things to compare: each seed group once (key: the group's id, value: its
    runs, first seed first) and each lone run as itself (a list of one), in the order given."""
    items: dict[str, list[RunRecord]] = {}
    for run in runs:
        items.setdefault(run.group_id or run.id, []).append(run)
    return {key: sorted(members, key=lambda r: r.created) for key, members in items.items()}
