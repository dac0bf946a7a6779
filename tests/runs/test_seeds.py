"""Seed groups: an old run store gains the group column and keeps its runs; n seeds queue as
one group and run one after another; mean ± std and the verdict against seed noise; the CLI's
--seeds and `runs group`."""
import json
import sqlite3
import threading
import time

import numpy as np
import pytest

from tlcore.config import DataConfig, FeatureMapConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig
from tlcore.plots import compare_curves_figure, group_curve_figure, seed_band
from tlcore.runs import RunStore, scheduler, seed_group, submit_seeds
from tlcore.runs.read import MetricsFeed, current_runs, list_overviews
from tlcore.runs.seeds import compare_items, group_name, spread, versus_noise
from tlcore.runs.store import SCHEMA_VERSION

TINY = ["--target", "syndigits", "--backbone", "dann_digits_cnn", "--weights", "none", "--img-size", "28",
        "--per-class", "12", "--epochs", "1", "--batch-size", "16", "--optimizer", "sgd", "--lr", "0.02",
        "--map-every", "0"]

# The run store as TL Studio wrote it before seed groups (schema version 1), verbatim.
SCHEMA_1 = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY, name TEXT, created REAL NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL, pid INTEGER, host TEXT, started REAL, ended REAL, error TEXT,
    summary TEXT, folder TEXT NOT NULL, resume INTEGER NOT NULL DEFAULT 0,
    stop_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL, step INTEGER NOT NULL,
    epoch INTEGER NOT NULL, split TEXT NOT NULL, name TEXT NOT NULL, value REAL, time REAL NOT NULL
);
CREATE INDEX metrics_run_step ON metrics (run, step);
CREATE INDEX runs_status ON runs (status, created);
PRAGMA user_version = 1;
"""


def tiny(epochs=1) -> RunConfig:
    return RunConfig(data=DataConfig(target="syndigits", per_class=12, image_size=28),
                     model=ModelConfig(backbone="dann_digits_cnn", weights="none", freeze="none"),
                     optim=OptimConfig(name="sgd", lr=0.02), schedule=ScheduleConfig(epochs=epochs),
                     feature_map=FeatureMapConfig(every=0), batch_size=16)


def test_a_store_from_before_seed_groups_opens_keeps_its_runs_and_migrates_once(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    old = sqlite3.connect(root / "runs.db")
    old.executescript(SCHEMA_1)
    summary = {"status": "finished", "target.test.accuracy": 0.75}
    old.execute("INSERT INTO runs (id, name, created, config, status, folder, summary) VALUES (?, ?, ?, ?, ?, ?, ?)",
                ("20250101-120000-abcdef", "old run", time.time(), tiny().to_json(), "finished",
                 str(root / "20250101-120000-abcdef"), json.dumps(summary)))
    old.execute("INSERT INTO metrics (run, step, epoch, split, name, value, time) VALUES (?, 1, 1, 'train', 'loss', "
                "0.5, 0)", ("20250101-120000-abcdef",))
    old.commit()
    old.close()
    # Four processes' worth of openers at once (threads with their own connections): the
    # migration runs under the write lock, so the columns are added exactly once.
    errors = []

    def open_store():
        try:
            RunStore(root).close()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = RunStore(root)
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    run = store.get("20250101-120000-abcdef")
    assert run.name == "old run" and run.summary == summary and run.group_id is None
    assert run.owner == ""  # from before owners: anyone's, as every run was then
    assert run.replay_of is None and len(store.metrics(run.id)) == 1
    assert list_overviews(store)[0]["target.test.accuracy"] == 0.75 and seed_group(store, run.id) is None
    assert store.integrity_ok()
    first = store.create_run(tiny(), group="new")
    second = store.create_run(tiny().replace(seed=1), group=first)
    assert [r.id for r in store.group_runs(first)] == [first, second]


def test_spread_and_the_verdict_against_seed_noise():
    s = spread([0.7, 0.8, 0.9])
    assert s.n == 3 and s.mean == pytest.approx(0.8) and s.std == pytest.approx(0.1)  # sample std
    assert s.text() == "80.0% ± 10.0 (n=3)" and (s.low, s.high) == (0.7, 0.9)
    assert spread([0.5]).std is None and spread([None]) is None
    tight_high, tight_low = spread([0.90, 0.91, 0.92]), spread([0.80, 0.81, 0.82])
    assert "larger than seed noise" in versus_noise(tight_high, tight_low)
    assert versus_noise(tight_high, tight_low).startswith("A − B: +10.0 points")
    noisy = spread([0.70, 0.95, 0.80])
    assert "within seed noise" in versus_noise(noisy, tight_low, "X", "Y")
    assert "No seed noise known for B (one run)" in versus_noise(noisy, spread([0.5]))


def test_seeds_queue_as_one_group_and_run_one_after_another(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_MAX_JOBS", "1")
    store = RunStore(tmp_path / "runs")
    ids = submit_seeds(store, tiny().replace(seed=5), 2, "probe")
    runs = [store.get(i) for i in ids]
    assert [r.seed for r in runs] == [5, 6]
    assert [r.group_id for r in runs] == [ids[0]] * 2 and [r.name for r in runs] == ["probe · seed 5",
                                                                                          "probe · seed 6"]
    assert [r.status for r in runs] == ["running", "queued"]  # the cap: one trains, the next waits
    try:
        assert [scheduler.wait(store, i, 300) for i in ids] == ["finished", "finished"]
    finally:
        for i in ids:
            scheduler.stop(store, i, grace_s=5)
    first, second = (store.get(i) for i in ids)
    assert second.started >= first.ended - 0.5  # the first worker started the second as it ended
    group = seed_group(store, ids[1])  # any member's id finds the group
    accs = [store.get(i).summary["target.test.accuracy"] for i in ids]
    assert group.id == ids[0] and group.count("finished") == 2
    acc = group.scores["target.test.accuracy"]
    assert acc.mean == pytest.approx(np.mean(accs)) and acc.std == pytest.approx(np.std(accs, ddof=1))
    assert group.progress_text() == "2 seeds: 2 finished" and group_name(group.runs) == "probe"
    assert list(compare_items(current_runs(store))) == [ids[0]]  # one entry to compare, not two
    assert submit_seeds(store, tiny(), 1) and len(store.list_runs()) == 3  # one seed: a plain run
    assert store.list_runs()[-1].group_id is None
    with pytest.raises(ValueError, match="between 1 and 20"):
        submit_seeds(store, tiny(), 0)


def test_cli_trains_seeds_in_turn_and_prints_the_groups_mean_and_std(tmp_path, capsys):
    from tlcore.cli import main
    runs = str(tmp_path / "runs")
    assert main(["train", *TINY, "--seed", "3", "--seeds", "3", "--runs-dir", runs, "--out",
                 str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    store = RunStore(runs)
    members = store.list_runs()
    assert [r.seed for r in members] == [3, 4, 5]
    assert {r.group_id for r in members} == {members[0].id}
    assert [r.folder for r in members] == [tmp_path / "out" / f"seed-{s}" for s in (3, 4, 5)]
    accs = [r.summary["target.test.accuracy"] for r in members]
    expected = spread(accs).text(with_n=False)
    assert f"seed group {members[0].id} · 3 seeds: 3 finished" in out
    assert any(line.startswith("target test, mean ± std:") and expected in line for line in out.splitlines())
    assert main(["runs", "group", members[2].id, "--runs-dir", runs, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["group"] == members[0].id and [r["seed"] for r in shown["runs"]] == [3, 4, 5]
    assert shown["scores"]["target.test.accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert main(["runs", "list", "--runs-dir", runs]) == 0
    assert f"seed 4 of group {members[0].id}" in capsys.readouterr().out
    assert main(["train", *TINY, "--seeds", "2", "--resume", "--out", str(tmp_path / "x"), "--runs-dir", runs]) == 2
    assert "cannot be combined with --resume" in capsys.readouterr().err
    lone = store.create_run(tiny(), "lone")
    assert main(["runs", "group", lone, "--runs-dir", runs]) == 2
    assert "is not in a seed group" in capsys.readouterr().err
    check_the_groups_curve_band([MetricsFeed(store, r.id).poll() for r in members])


def check_the_groups_curve_band(rows: list[list[dict]]):
    """The recorded runs' validation curves as one mean line with a band: ±1 std with three
    seeds, min-max with two."""
    val = [r[-1]["value"] for r in ([m for m in x if m["split"] == "target.val" and m["name"] == "accuracy"]
                                    for x in rows)]
    band = seed_band(rows)
    assert band["epoch"] == [1] and band["n"] == [3] and band["band"] == "±1 std"
    assert band["mean"][0] == pytest.approx(np.mean(val))
    assert band["high"][0] - band["mean"][0] == pytest.approx(np.std(val, ddof=1))
    two = seed_band(rows[:2])
    assert (two["band"], two["low"][0], two["high"][0]) == ("min–max", min(val[:2]), max(val[:2]))
    fig = compare_curves_figure({"lone": rows[0], "three seeds": rows})
    names = [t.name for t in fig.data]
    assert names[0] == "lone" and "three seeds (mean of 3 seeds, band ±1 std)" in names
    assert [t.fill for t in fig.data].count("tonexty") == 1
    assert list(group_curve_figure({f"seed {i}": r for i, r in enumerate(rows)}).data[-1].y) == band["mean"]
