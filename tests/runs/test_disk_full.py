"""The disk filling up during a checkpoint write, for real: the training runs in a child
process whose file size limit (RLIMIT_FSIZE, enforced by the kernel, no privileges needed)
is lowered after epoch 2 below the size of a checkpoint, with SIGXFSZ ignored so that a
write past it fails with EFBIG instead of killing the process. That is what a full disk
does to the write (ENOSPC) as far as the code is concerned: os.write raises OSError half-way
through a file. The previous checkpoint must still load and the run must fail with a
message that names the file and the cause; a resume (in a normal worker) then finishes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from tlcore.config import DataConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig
from tlcore.runs import scheduler

ROOT = Path(__file__).resolve().parents[2]

# A resnet18 (45 MB of weights) on 32 px printed digits: about 1 s an epoch here, and its
# checkpoint is far bigger than anything else the run writes (database, WAL, logs).
CONFIG = RunConfig(data=DataConfig(target="syndigits", per_class=6, image_size=32),
                   model=ModelConfig(backbone="resnet18", weights="none", freeze="none"),
                   optim=OptimConfig(name="sgd", lr=0.01), schedule=ScheduleConfig(epochs=3), batch_size=20)

CHILD = """
import resource, signal, sys
from pathlib import Path
sys.path.insert(0, {root!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
from tlcore.runs import RunStore
from tlcore.runs.worker import run_recorded
from tlcore.train.events import EpochEnded

store = RunStore({runs!r})
folder = Path(store.get({run_id!r}).folder)

def disk_fills_after_epoch_1_checkpoint(event):
    # Runs after the store has recorded epoch 2, before the run folder's files and checkpoint.
    if isinstance(event, EpochEnded) and event.epoch == 2:
        others = [p.stat().st_size for p in store.root.rglob("*") if p.is_file() and "checkpoints" not in p.parts]
        limit = max(others) + (1 << 20)  # room for the store to record the failure
        assert limit < (folder / "checkpoints" / "last.safetensors").stat().st_size // 2, limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        print("limit", limit, flush=True)

try:
    run_recorded(store, {run_id!r}, extra_listeners=[disk_fills_after_epoch_1_checkpoint])
except Exception as exc:
    print("FAILED", type(exc).__name__, exc, flush=True)
    sys.exit(3)
sys.exit(0)
"""


def test_disk_full_during_a_checkpoint_keeps_the_previous_one_and_fails_clearly(store):
    run_id = store.create_run(CONFIG, "disk fills")
    folder = Path(store.get(run_id).folder)
    ckpt = folder / "checkpoints"
    child = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), runs=str(store.root), run_id=run_id)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1"))
    assert child.returncode == 3, child.stdout + child.stderr
    assert "limit" in child.stdout and "FAILED CheckpointWriteError" in child.stdout, child.stdout

    run = store.get(run_id)
    assert run.status == "failed"
    error = run.error
    assert error.startswith("CheckpointWriteError: could not write the checkpoint of epoch 2"), error
    assert "writing last.safetensors in" in error and str(ckpt) in error and "EFBIG" in error, error
    assert "the checkpoint of epoch 1 is kept" in error and "resume" in error, error

    # The previous checkpoint is whole and consistent; no temporary file is left behind.
    assert sorted(p.name for p in ckpt.iterdir()) == ["best.safetensors", "last.json", "last.safetensors",
                                                      "last_state.pt"]
    assert json.loads((ckpt / "last.json").read_text())["epoch"] == 1
    weights = load_file(str(ckpt / "last.safetensors"))
    assert "body.conv1.weight" in weights or any(k.endswith("conv1.weight") for k in weights)
    state = torch.load(ckpt / "last_state.pt", map_location="cpu", weights_only=True)
    assert set(state) == {"optimizer", "scheduler"}
    assert store.integrity_ok()
    # Epoch 2 was recorded before the write failed: its metrics are there, nothing is lost.
    assert {m["epoch"] for m in store.metrics(run_id, split="epoch")} == {1, 2}

    # With the limit gone (a normal worker), the run resumes from epoch 1 and finishes.
    scheduler.resume(store, run_id)
    assert scheduler.wait(store, run_id, 300) == "finished", store.get(run_id).error
    assert store.get(run_id).summary["epochs_run"] == 3
    # Each start records its first step: 0, then the step after epoch 1 (not 0 again).
    starts = [m["step"] for m in store.metrics(run_id, split="run") if m["name"] == "epochs"]
    per_epoch = [m["value"] for m in store.metrics(run_id, split="run") if m["name"] == "steps_per_epoch"][0]
    assert starts == [0, per_epoch], starts
    assert json.loads((ckpt / "last.json").read_text())["epoch"] == 3
    assert not list(ckpt.glob(".*.tmp*"))  # no temporary file left behind
