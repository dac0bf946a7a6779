"""Faults under load, the light variant of benchmarks/load.py (the full one: 10 sessions for
60 s and 2 runs, figures in BENCHMARKS.md): 3 browser contexts load and reload the pages of
a real server on 127.0.0.1 while a run started from the Train page trains; the server is
killed with SIGKILL mid-run and a new one started on the same port and runs folder. The run
must keep training, be shown by the new server, finish, and have lost no metric row."""
import os
import shutil

import pytest

pytestmark = pytest.mark.e2e
CHROMIUM = os.environ.get("TLSTUDIO_CHROMIUM", "/usr/bin/chromium")


def test_three_sessions_a_run_and_a_server_killed_mid_run(tmp_path):
    if not shutil.which(CHROMIUM):
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("TLSTUDIO_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from benchmarks import load
    r = load.run(sessions=3, seconds=25, runs=1, epochs=2, per_class=30, image_size=32, restart=True,
                 run_timeout=120, work_dir=tmp_path)
    summary = load.table(r)
    assert r["failures"] == [], summary + f"\n{r['failures']}"
    assert r["sessions_held"] == 3 and r["page_loads_ok"] == r["page_loads"] >= 6, summary
    restart = r["restart"]
    assert restart["status_in_store_after"] in ("running", "finished"), summary
    assert restart["worker_alive_after_kill"] and restart["train_rows_before"] > 0, summary
    assert restart["shown_by_new_server"] in ("running", "finished") and restart["shown_at_end"] == "finished", summary
    assert restart["ok"], summary
    [run] = r["runs_detail"]
    assert run["status"] == "finished" and run["complete"], run
    assert run["rows_lost"] == 0 and run["rows_found"] == run["rows_expected"] > 0, run
    assert r["store_integrity_ok"] and r["ok"], summary
