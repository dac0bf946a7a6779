"""``python -m tlcore train`` end to end: files written, replay from config, DDP, bad args."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--target", "syndigits", "--backbone", "dann_digits_cnn", "--weights", "none", "--img-size", "28",
        "--per-class", "12", "--epochs", "2", "--batch-size", "16", "--optimizer", "sgd", "--lr", "0.02"]


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    """Every run of these tests is recorded in a store of its own, not in ./runs."""
    monkeypatch.setenv("TLSTUDIO_RUNS_DIR", str(tmp_path / "store"))


def run(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "tlcore", "train", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def test_dann_from_the_cli_writes_a_run_folder(tmp_path):
    r = run(*TINY, "--source", "mnist", "--strategy", "dann", "--out", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.json", "summary.json", "metrics.jsonl", "checkpoints", "target_split.json"} <= files
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["strategy"] == "dann" and summary["freeze"] == "none"  # the strategy's recommended freeze
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"domain_loss", "domain_acc", "lambda"} <= set(rows[0]) and rows[-1]["kind"] == "epoch"
    assert "before transfer" in r.stdout and "accuracy" in r.stdout
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["environment"]["torch"] and "git_commit" in config["environment"]


def test_replay_from_config_gives_the_same_metrics(tmp_path):
    first = run(*TINY, "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    replay = run("--config", str(tmp_path / "a" / "config.json"), "--out", str(tmp_path / "b"))
    assert replay.returncode == 0, replay.stderr
    a, b = (json.loads((tmp_path / x / "summary.json").read_text()) for x in "ab")
    for key in ("target.test.accuracy", "target.test.macro_f1", "target.val.accuracy"):
        assert a[key] == b[key], key


def test_two_process_ddp_run_on_gloo(tmp_path):
    r = run(*TINY, "--devices", "2", "--out", str(tmp_path / "ddp"))
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert s["status"] == "finished" and s["world_size"] == 2
    # Predictions of both ranks were gathered: every test image is counted once.
    assert sum(map(sum, s["target.test.confusion_matrix"])) == 20
    assert r.stdout.count("before transfer") == 1  # only rank 0 reports


@pytest.mark.parametrize("args, message", [
    (["--strategy", "dann"], "needs a labelled source"),
    (["--strategy", "telepathy"], "unknown strategy 'telepathy'; valid choices: adabn"),
    (["--backbone", "resnet19"], "valid choices: convnext_tiny"),
    (["--img-size", "0"], "image size"),
    (["--freeze", "stage99"], "unknown stages"),
    (["--target", "/no/such/folder"], "neither a built-in domain"),
    (["--param", "lamda=2", "--strategy", "dann", "--source", "mnist"], "unknown parameters for strategy 'dann'"),
    (["--resume"], "--resume needs --out"),
])
def test_bad_arguments_exit_2_with_the_valid_choices(args, message, capsys):
    from tlcore.cli import main  # in-process: the same main() the command runs, without the start-up cost
    assert main(["train", *TINY, *args]) == 2
    assert message in capsys.readouterr().err
