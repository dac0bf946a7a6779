"""The recipe search (python -m tlcore auto) on real small data with the real pretrained
default: it writes an ordinary run whose winner is chosen on validation, never below the
optimal linear head there, with no test score but the winner's; bad input gets a clear
message and nothing outside the run store."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import need_domain
from tlcore.backbones import backbone_info
from tlcore.config import DEFAULT_BACKBONE, DataConfig, RunConfig
from tlcore.search import candidate_configs, recipes
from tlcore.strategies import strategy_info
from tlcore.search.candidates import epochs_for

ROOT = Path(__file__).resolve().parents[1]


def auto(tmp_path, *flags, budget="30"):
    env_flags = ["--runs-dir", str(tmp_path / "runs"), "--budget", budget, "--threads", "1"]
    return subprocess.run([sys.executable, "-m", "tlcore", "auto", *flags, *env_flags], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "TLSTUDIO_FEATURE_MAPS": "off"})


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*") if p.is_file()} if path.exists() else set()


def test_auto_on_a_tiny_set_writes_an_ordinary_run_chosen_on_validation(tmp_path):
    out = tmp_path / "runs" / "search"
    done = auto(tmp_path, "--target", "syndigits", "--per-class", "20", "--img-size", "32", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished" and 0 <= summary["target.test.accuracy"] <= 1
    board = summary["search"]["candidates"]
    assert [c["recipe"] for c in board if c["winner"]] == [summary["search"]["winner"]]
    assert all("val_accuracy" in c and "seconds" in c for c in board)
    assert not any("test" in key for c in board for key in c)  # only the winner's test score exists
    scored = [c for c in board if c["val_accuracy"] is not None]
    linear = next(c for c in board if c["recipe"] == "linear head")
    winner = next(c for c in board if c["winner"])
    assert winner["val_accuracy"] == max(c["val_accuracy"] for c in scored) >= linear["val_accuracy"]
    # The run is the winner's: its config replays it, and the kept model scored what it was chosen on.
    config = RunConfig.from_json(out / "config.json")
    assert config.search_budget_s == 0 and config.name.startswith("best recipe")
    assert summary["target.val.accuracy"] == pytest.approx(winner["val_accuracy"])
    assert (out / "checkpoints" / "best.safetensors").exists()
    assert summary["search"]["seconds"] < 30 + 20  # its budget, plus the winner's evaluation
    assert "winner:" in done.stdout
    assert files_under(tmp_path) == files_under(tmp_path / "runs")  # nothing outside the store


def test_a_budget_too_small_for_one_candidate_is_refused_before_anything_is_written(tmp_path):
    done = auto(tmp_path, "--target", "syndigits", budget="5")
    assert done.returncode == 2 and "too small for even one candidate" in done.stderr
    assert not (tmp_path / "runs").exists()


def make_folder(root: Path, counts: dict[int, int]) -> Path:
    from PIL import Image

    from tlcore.data import load_domain
    digits = load_domain("syndigits", per_class=max(counts.values()))
    for label, n in counts.items():
        (root / str(label)).mkdir(parents=True)
        for i in np.flatnonzero(digits.labels == label)[:n]:
            Image.fromarray(digits.images[i]).save(root / str(label) / f"{i}.png")
    return root


@pytest.mark.parametrize("flags, message", [
    (lambda tmp: ["--target", str(make_folder(tmp / "one", {0: 12, 1: 12, 2: 1}))], "fewer than 2 images"),
    (lambda tmp: ["--target", "clipart", "--source", "syndigits", "--per-class", "5"], "no class in common"),
])
def test_bad_data_gets_a_clear_message_and_nothing_outside_the_store(tmp_path, flags, message):
    need_domain("clipart")
    data = tmp_path / "data"
    data.mkdir()
    args = flags(data)  # the data is made first: it must not change
    before = files_under(data)
    done = auto(tmp_path, *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr[-1500:]
    assert "Traceback" not in done.stderr
    assert files_under(data) == before
    assert files_under(tmp_path) - files_under(data) == files_under(tmp_path / "runs")


def test_the_candidates_are_stated_and_fit_the_data():
    target_only = [r.name for r, _ in candidate_configs(RunConfig(data=DataConfig(image_size=64)))]
    assert target_only == [r.name for r in recipes() if not r.needs_source]
    with_source = [r.name for r, _ in candidate_configs(RunConfig(data=DataConfig(source="mnist")))]
    assert {"source only", "MMD", "MCC", "MCC, frozen trunk"} <= set(with_source)  # the measured ones
    linear = candidate_configs(RunConfig())[0][1]
    assert linear.model.freeze == "all" and linear.schedule.epochs == 1 and not linear.schedule.eval_test
    assert epochs_for(50, 32) == 60 and epochs_for(2000, 32) == 12  # at least 60 steps, on evaluated epochs


def test_the_larger_image_recipes_double_the_size_up_to_the_native_input():
    native = backbone_info(DEFAULT_BACKBONE).input_size
    sizes = lambda size: {r.name: c.data.image_size for r, c in  # noqa: E731
                          candidate_configs(RunConfig(data=DataConfig(image_size=size)))}
    at_64 = sizes(64)
    assert at_64["linear head"] == 64 and at_64["LP-FT"] == 64
    assert at_64["linear head, larger images"] == 128
    assert sizes(native - 16)["linear head, larger images"] == native  # capped at the native input
    assert not any("larger" in name for name in sizes(native))  # nothing larger to try
    assert not any("larger" in name for name in sizes(None))  # None: the native size already


def test_target_only_recipes_leave_the_source_out_and_walk_their_own_epochs():
    pairs = candidate_configs(RunConfig(data=DataConfig(source="mnist")), 60, 12)
    for recipe, config in pairs:
        # The solved linear heads are one fit; MCC on a frozen trunk trains its head by epochs.
        solved = recipe.freeze == "all" and strategy_info(recipe.strategy).linear_head_data
        trained = 1 if solved else None
        if recipe.needs_source:
            assert config.data.source == "mnist" and config.schedule.epochs == (trained or 12), recipe.name
        else:
            assert config.data.source is None and config.schedule.epochs == (trained or 60), recipe.name
