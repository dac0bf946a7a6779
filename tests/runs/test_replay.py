"""Replays: a real pretrained run replayed by a worker from its config.json ends on the same
final metrics on the CPU; what a replay warns about when the recorded environment differs."""
import json
from pathlib import Path

import torch

from tlcore.config import DataConfig, FeatureMapConfig, ModelConfig, RunConfig, ScheduleConfig
from tlcore.runs.replay import FINAL, environment_changes, replay_config, replay_report, replay_warnings


def test_a_pretrained_run_and_its_replay_end_on_identical_final_metrics(store, capsys):
    """The embedded ImageNet efficientnet_lite0 fine-tuned on printed digits in this process
    (as `python -m tlcore train` does), then replayed by the CLI in a worker process (as the
    dashboard's Re-run does): every final metric is the same float."""
    from tlcore.cli import main
    from tlcore.runs.worker import run_recorded
    config = RunConfig(data=DataConfig(target="syndigits", per_class=20, image_size=32),
                       model=ModelConfig(backbone="efficientnet_lite0", weights="imagenet", freeze="last:2"),
                       schedule=ScheduleConfig(epochs=1), feature_map=FeatureMapConfig(every=0), batch_size=16,
                       seed=7)
    original = store.create_run(config, "lite0 on syndigits")
    # One thread here, where the worker would take two: on the CPU these end on different
    # weights (measured), so the replay must pin the recorded count to match.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert run_recorded(store, original).status == "finished"
    finally:
        torch.set_num_threads(threads)
    recorded = json.loads((Path(store.get(original).folder) / "config.json").read_text())["environment"]
    assert recorded["torch"] and recorded["git_commit"] and recorded["torch_threads"] == 1
    assert replay_warnings(store, original) == []  # same machine, same code, same versions
    assert replay_config(store, original).threads == recorded["torch_threads"]  # pinned: results depend on it

    capsys.readouterr()
    assert main(["runs", "replay", original, "--wait", "--runs-dir", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("identical final metrics"), out
    replayed = next(r for r in store.list_runs() if r.replay_of == original)
    assert replayed.name == "replay of lite0 on syndigits" and replayed.status == "finished"
    report = replay_report(store, replayed.id)
    assert report["identical"] and report["environment"] == []
    assert {r["metric"] for r in report["rows"]} == set(FINAL)
    a, b = store.get(original).summary, replayed.summary
    assert [a[k] for k in FINAL] == [b[k] for k in FINAL]
    assert a["target.test.confusion_matrix"] == b["target.test.confusion_matrix"]
    # The worker (the dashboard's path) records its environment too.
    mine = json.loads((Path(replayed.folder) / "config.json").read_text())
    assert mine["environment"]["git_commit"] == recorded["git_commit"] and mine["threads"] == recorded["torch_threads"]


def test_a_replay_says_what_differs_from_the_recorded_environment(store):
    config = RunConfig(environment={"torch": "1.0.0", "numpy": "1.0", "git_commit": "deadbeef", "torch_threads": 2,
                                    "platform": "another kernel"})
    run_id = store.create_run(config, "from elsewhere")
    folder = Path(store.get(run_id).folder)
    config.to_json(folder / "config.json")
    store.update(run_id, status="finished", summary={"status": "finished", "device": "cuda"})
    warnings = replay_warnings(store, run_id)
    versions = next(w for w in warnings if w.startswith("the environment differs"))
    import numpy
    assert f"torch 1.0.0 → {torch.__version__}" in versions and f"numpy 1.0 → {numpy.__version__}" in versions
    assert "git commit deadbeef → " in versions and "platform" not in versions  # a kernel update says nothing
    assert any("the original ran on cuda, a replay here runs on cpu" in w for w in warnings)
    assert environment_changes({}, {"torch": "x"}) == []  # nothing recorded: nothing to compare
    (folder / "config.json").unlink()  # a run that failed before training: only the store's copy
    store.update(run_id, config=RunConfig().to_json())
    assert any("recorded no environment" in w for w in replay_warnings(store, run_id))
