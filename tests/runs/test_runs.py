"""The run store and worker processes, with real faults: kill -9, stop, queueing,
concurrent readers and writers, an unusable runs folder."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tlcore.config import DataConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig
from tlcore.runs import RunStore, RunStoreError, scheduler
from tlcore.runs.store import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[2]


def small(epochs=3, per_class=30) -> RunConfig:
    """About 1-2 s an epoch on 2 cores: the DANN digits CNN on printed digits."""
    return RunConfig(data=DataConfig(target="syndigits", per_class=per_class, image_size=28),
                     model=ModelConfig(backbone="dann_digits_cnn", weights="none", freeze="none"),
                     optim=OptimConfig(name="sgd", lr=0.02), schedule=ScheduleConfig(epochs=epochs), batch_size=16)


def wait_for(predicate, timeout=120, every=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    raise TimeoutError("condition not met in time")


def epochs_done(store, run_id) -> int:
    return len({m["epoch"] for m in store.metrics(run_id) if m["split"] == "epoch"})


def test_schema_is_versioned_and_runs_are_recorded(store):
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    run_id = store.create_run(small(), "my run")
    run = store.get(run_id)
    assert run.status == "queued" and run.name == "my run" and Path(run.folder).is_dir()
    assert run.config == small()
    store.add_metrics(run_id, [(s, 1, "train", "loss", 1.0 / s, time.time()) for s in range(1, 11)])
    assert [m["step"] for m in store.metrics(run_id, since_step=7)] == [8, 9, 10]
    with pytest.raises(KeyError, match="no run 'nope'"):
        store.get("nope")


def test_worker_runs_to_the_end_and_records_everything(store):
    run_id = scheduler.submit(store, small(epochs=2))
    assert scheduler.wait(store, run_id, 300) == "finished"
    run = store.get(run_id)
    assert run.summary["epochs_run"] == 2 and run.ended >= run.started
    from tlcore.runs.read import list_overviews, metrics_since, run_config
    row = list_overviews(store)[0]
    assert row["status"] == "finished" and row["target.test.accuracy"] == run.summary["target.test.accuracy"]
    assert run_config(store, run_id) == small(epochs=2)
    last = metrics_since(store, run_id)[-5]["step"]
    assert all(m["step"] > last for m in metrics_since(store, run_id, last))
    names = {(m["split"], m["name"]) for m in store.metrics(run_id)}
    assert {("train", "loss"), ("target.val", "accuracy"), ("target.test", "macro_f1")} <= names
    assert (Path(run.folder) / "checkpoints" / "last.safetensors").exists()


def test_kill_9_mid_epoch_then_resume_finishes(store):
    run_id = scheduler.submit(store, small(epochs=4))
    wait_for(lambda: epochs_done(store, run_id) >= 1 and store.metrics(run_id, split="train")[-1]["epoch"] >= 2)
    pid = store.get(run_id).pid
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: not scheduler.pid_alive(pid))
    scheduler.reconcile(store)
    run = store.get(run_id)
    assert run.status == "failed" and "ended without reporting" in run.error
    # This process started the worker, so it knows how it ended, and says so.
    assert "killed by SIGKILL (the out-of-memory killer sends it)" in run.error, run.error
    assert store.integrity_ok()
    done_before = json.loads((Path(run.folder) / "checkpoints" / "last.json").read_text())["epoch"]
    assert done_before >= 1
    scheduler.resume(store, run_id)
    assert scheduler.wait(store, run_id, 300) == "finished"
    summary = store.get(run_id).summary
    assert summary["epochs_run"] == 4  # the resumed run continued from its checkpoint
    log = (Path(run.folder) / "worker.log").read_text()
    assert f"resumed from epoch {done_before}" in log or summary["epochs_run"] == 4


def test_stop_mid_epoch_within_two_seconds(store):
    run_id = scheduler.submit(store, small(epochs=20, per_class=60))
    wait_for(lambda: len(store.metrics(run_id, split="train")) > 20)
    t0 = time.monotonic()
    status = scheduler.stop(store, run_id, grace_s=10)
    elapsed = time.monotonic() - t0
    assert status == "stopped" and elapsed < 2.0, (status, elapsed)
    folder = Path(store.get(run_id).folder)
    assert (folder / "checkpoints" / "last.safetensors").exists()
    assert store.get(run_id).summary["status"] == "stopped"


def test_second_run_queues_under_a_cap_of_one(store):
    first = scheduler.submit(store, small(epochs=2))
    second = scheduler.submit(store, small(epochs=1))
    assert store.get(first).status == "running" and store.get(second).status == "queued"
    assert scheduler.wait(store, first, 300) == "finished"
    # The first worker starts the next queued run as it ends.
    assert scheduler.wait(store, second, 300) == "finished"
    assert store.get(second).started >= store.get(first).ended - 1


def test_reading_while_a_worker_writes_never_hits_a_lock(store):
    run_id = scheduler.submit(store, small(epochs=3))
    reader = RunStore(store.root)  # as the dashboard process would
    errors, reads, since = [], 0, -1
    while store.get(run_id).status in ("queued", "running"):
        try:
            rows = reader.metrics(run_id, since_step=since)
            since = max([since] + [r["step"] for r in rows])
            reader.list_runs()
            reads += 1
        except sqlite3.OperationalError as exc:
            errors.append(str(exc))
        time.sleep(0.01)
    assert errors == [] and reads > 50
    assert scheduler.wait(store, run_id, 60) == "finished"


def test_unusable_runs_folder_is_a_clear_error_at_start(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(RunStoreError, match="is not writable.*--runs-dir"):
        RunStore(blocker / "runs")
    with pytest.raises(RunStoreError, match="is not writable"):
        RunStore("/proc/tlstudio-runs")  # a read-only file system, even for root
    from tlcore.cli import main
    assert main(["train", "--target", "syndigits", "--runs-dir", "/proc/tlstudio-runs"]) == 2


WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from tlcore.runs import RunStore
from tlcore.runs.recorder import StoreRecorder
from tlcore.train.events import StepEnded, RunEnded
store = RunStore({runs!r})
rec = StoreRecorder(store, {run_id!r})
step, end = 0, time.monotonic() + {seconds}
while time.monotonic() < end:
    step += 1
    rec(StepEnded(1, step, {{"loss": float(step), "acc": 0.5}}))
    time.sleep(0.002)
rec(RunEnded("finished", {{}}))
print(step)
"""


def test_three_writers_for_sixty_seconds_lose_nothing(store):
    ids = [store.create_run(small(), f"writer {i}") for i in range(3)]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), runs=str(store.root),
                                                                   run_id=i, seconds=60)],
                              stdout=subprocess.PIPE, text=True) for i in ids]
    counts = [int(p.communicate(timeout=180)[0].strip()) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    for run_id, steps in zip(ids, counts):
        rows = store.metrics(run_id)
        assert len(rows) == 2 * steps and {r["step"] for r in rows} == set(range(1, steps + 1))
    assert store.integrity_ok() and min(counts) > 1000


def test_delete_refuses_a_running_run_and_removes_a_finished_one(store):
    run_id = scheduler.submit(store, small(epochs=2))
    with pytest.raises(RunStoreError, match="stop it before deleting"):
        store.delete(run_id)
    scheduler.wait(store, run_id, 300)
    folder = Path(store.get(run_id).folder)
    store.delete(run_id)
    assert not folder.exists() and store.metrics(run_id) == []
    with pytest.raises(KeyError):
        store.get(run_id)


def test_a_cli_run_is_listed_stopped_and_resumed_from_the_cli(tmp_path, capsys, monkeypatch):
    from tlcore.cli import main
    monkeypatch.setenv("TLSTUDIO_MAX_JOBS", "1")
    runs = str(tmp_path / "runs")
    cmd = [sys.executable, "-m", "tlcore", "train", "--target", "syndigits", "--backbone", "dann_digits_cnn",
           "--weights", "none", "--img-size", "28", "--per-class", "60", "--epochs", "30", "--batch-size", "16",
           "--runs-dir", runs]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = RunStore(runs)
    wait_for(lambda: store.list_runs() and len(store.metrics(store.list_runs()[0].id, split="train")) > 10)
    run_id = store.list_runs()[0].id
    capsys.readouterr()
    assert main(["runs", "list", "--runs-dir", runs, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["id"] == run_id and listed[0]["status"] == "running"
    assert main(["runs", "stop", run_id, "--runs-dir", runs]) == 0
    assert capsys.readouterr().out.strip() == "stopped"
    proc.communicate(timeout=60)
    assert proc.returncode == 0  # a stopped run is a clean end
    epochs_before = store.get(run_id).summary["epochs_run"]
    config = json.loads(store.get(run_id).config_json)
    config["schedule"]["epochs"] = epochs_before + 1  # resume just one more epoch, to keep the test short
    store.update(run_id, config=json.dumps(config))
    assert main(["runs", "resume", run_id, "--runs-dir", runs, "--wait"]) == 0
    assert capsys.readouterr().out.strip() == "finished"
    assert store.get(run_id).summary["epochs_run"] == epochs_before + 1
    assert main(["runs", "show", run_id, "--runs-dir", runs]) == 0
    assert "finished" in capsys.readouterr().out
    assert main(["runs", "show", "no-such-run", "--runs-dir", runs]) == 2
