"""The run limits (tlcore.runs.limits) and run-id validation. The free-space refusal is real:
the threshold is set, through its environment variable, far above any disk's free space, so
the check compares against what shutil.disk_usage reports for the runs folder."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tlcore.config import RunConfig
from tlcore.runs import RunLimitError, RunStoreError, is_run_id, max_running_jobs, scheduler
from tlcore.runs.limits import free_disk_mb

ROOT = Path(__file__).resolve().parents[2]
HUGE = 10**12  # MB: no disk has this much free


def test_a_run_is_refused_when_free_disk_is_below_the_threshold(store, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_MIN_FREE_DISK_MB", str(HUGE))
    before = {p.name for p in store.root.iterdir()}
    with pytest.raises(RunLimitError) as refused:
        scheduler.submit(store, RunConfig())
    message = str(refused.value)
    assert isinstance(refused.value, RunStoreError)  # what the CLI and the Train page already catch
    free = int(re.search(r"([\d,]+) MB free under", message).group(1).replace(",", ""))
    assert abs(free - free_disk_mb(store.root)) <= 64  # the real figure (other processes write meanwhile)
    assert f"threshold of {HUGE:,} MB" in message and "TLSTUDIO_MIN_FREE_DISK_MB" in message
    assert f"free under {str(store.root)!r}" in message
    assert store.list_runs() == [] and {p.name for p in store.root.iterdir()} == before  # no trace left


def test_the_threshold_applies_to_a_folder_outside_the_runs_folder(store, tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_MIN_FREE_DISK_MB", str(HUGE))
    with pytest.raises(RunLimitError, match="MB free under"):
        store.create_run(RunConfig(), folder=tmp_path / "elsewhere" / "replay")  # the CLI's --out
    assert not (tmp_path / "elsewhere").exists()


def test_zero_turns_the_check_off_and_a_real_threshold_passes(store, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_MIN_FREE_DISK_MB", "0")
    assert is_run_id(store.create_run(RunConfig()))
    monkeypatch.setenv("TLSTUDIO_MIN_FREE_DISK_MB", str(max(1, free_disk_mb(store.root) // 2)))
    assert is_run_id(store.create_run(RunConfig()))


def test_a_queued_run_fails_with_the_figures_instead_of_starting_on_a_full_disk(store, monkeypatch):
    run_id = store.create_run(RunConfig())  # queued while there was space
    monkeypatch.setenv("TLSTUDIO_MIN_FREE_DISK_MB", str(HUGE))
    assert scheduler.schedule(store) == []
    run = store.get(run_id)
    assert run.status == "failed" and run.pid is None and "not enough free disk space" in run.error
    # Resume queues it again, and the same check fails it again: no worker starts.
    assert scheduler.resume(store, run_id) == "failed"
    assert "threshold of" in store.get(run_id).error


def test_the_cli_refuses_with_the_message_and_exit_code_2(tmp_path):
    env = {"TLSTUDIO_MIN_FREE_DISK_MB": str(HUGE), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tlcore", "train", "--target", "syndigits", "--runs-dir",
                           str(tmp_path / "runs"), "--epochs", "1"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "not enough free disk space" in done.stderr and "TLSTUDIO_MIN_FREE_DISK_MB" in done.stderr


def test_max_jobs_setting(monkeypatch):
    monkeypatch.setenv("TLSTUDIO_MAX_JOBS", "3")
    assert max_running_jobs() == 3
    monkeypatch.setenv("TLSTUDIO_MAX_JOBS", "0")  # as before: at least one run can train
    assert max_running_jobs() == 1
    monkeypatch.setenv("TLSTUDIO_MAX_JOBS", "two")
    with pytest.raises(ValueError, match="TLSTUDIO_MAX_JOBS must be a whole number, got 'two'"):
        max_running_jobs()


@pytest.mark.parametrize("bad", ["../../etc", "/etc/passwd", "20240101-120000-abcdef/../..", "20240101-120000-abcdef\n",
                                 "20240101-120000-ABCDEF", "２0240101-120000-abcdef", "", None, 20240101])
def test_only_the_store_id_format_is_a_run_id(store, bad):
    assert not is_run_id(bad)
    with pytest.raises(KeyError, match="not a run id"):
        store.get(bad)


def test_generated_ids_are_run_ids(store, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_MIN_FREE_DISK_MB", "0")
    run_id = store.create_run(RunConfig())
    assert is_run_id(run_id) and store.get(run_id).id == run_id
    assert Path(store.get(run_id).folder) == store.root / run_id
