import os
import signal

import pytest

from tlcore.runs import RunStore, scheduler


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A run store of the test's own, one job at a time, no spare (standby) worker; no worker
    outlives the test."""
    monkeypatch.setenv("TLSTUDIO_MAX_JOBS", "1")
    monkeypatch.setenv("TLSTUDIO_STANDBY", "0")
    s = RunStore(tmp_path / "runs")
    yield s
    for run in s.list_runs():
        if run.pid and scheduler.pid_alive(run.pid):
            os.killpg(run.pid, signal.SIGKILL)
