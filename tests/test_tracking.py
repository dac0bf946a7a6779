"""MLflow tracking against an SQLite tracking store the test creates: a real tiny run logs its
params, per-epoch metrics, final metrics and files, all inside the test's folders; without
mlflow, or with a server that is down, the run trains anyway and says why nothing was logged."""
import sys
from pathlib import Path

import pytest

from tlcore.config import DataConfig, FeatureMapConfig, RunConfig, ScheduleConfig
from tlcore.runs import RunStore
from tlcore.runs.worker import run_recorded
from tlcore.tracking import mlflow_listener, tracking_uri

TINY = RunConfig(data=DataConfig(target="syndigits", per_class=20, image_size=32), schedule=ScheduleConfig(epochs=2),
                 feature_map=FeatureMapConfig(every=0), name="tracked")


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    mlflow = pytest.importorskip("mlflow", reason="mlflow-skinny is in requirements-dev.txt")
    root = tmp_path_factory.mktemp("tracking")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_URI", uri)
    patch.chdir(root / ".." )  # MLflow's default artifact root would be ./mlruns of this folder
    try:
        store = RunStore(root / "runs")
        run_id = store.create_run(TINY)
        result = run_recorded(store, run_id)
    finally:
        patch.undo()
    client = mlflow.tracking.MlflowClient(uri)
    experiment = client.get_experiment_by_name("tlstudio")
    runs = client.search_runs([experiment.experiment_id], f"tags.`tlstudio.run_id` = '{run_id}'")
    return root, store, run_id, result, client, runs


def test_params_metrics_and_status_reach_mlflow(tracked_run):
    root, store, run_id, result, client, runs = tracked_run
    assert result.status == "finished" and len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.info.run_name == "tracked"
    assert run.data.params["model.backbone"] == "efficientnet_lite0"
    assert run.data.params["strategy.name"] == "finetune" and run.data.params["data.target"] == "syndigits"
    assert run.data.tags["env.torch"].startswith("2.")
    history = client.get_metric_history(run.info.run_id, "target.val.accuracy")
    assert [m.step for m in history] == [1, 2]
    recorded = {r["epoch"]: r["value"] for r in store.metrics(run_id)
                if r["split"] == "target.val" and r["name"] == "accuracy"}
    assert {m.step: m.value for m in history} == pytest.approx(recorded)
    assert run.data.metrics["final.target.test.accuracy"] == pytest.approx(result.summary["target.test.accuracy"])


def test_files_and_the_model_bundle_are_artifacts_inside_the_runs_folder(tracked_run):
    root, _, _, _, client, runs = tracked_run
    run = runs[0]
    names = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"config.json", "summary.json", "bundle"} <= names
    bundle = [f.path for f in client.list_artifacts(run.info.run_id, "bundle")]
    assert len(bundle) == 1 and bundle[0].endswith(".zip")
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(root)
    assert not (root.parent / "mlruns").exists()  # nothing written where the worker happened to run


def test_off_unless_asked_and_the_sidebar_switch_uses_the_runs_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(TINY, tmp_path) is None
    assert tracking_uri(TINY.replace(tracking="mlflow"), tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"


def test_without_mlflow_the_run_is_told_why_and_trains(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what an install without the extra looks like
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    monkeypatch.setitem(sys.modules, "mlflow.entities", None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    callback, message = mlflow_listener(TINY, tmp_path, "r1", tmp_path)
    assert callback is None and "mlflow is not installed" in message and "pip install" in message


def test_a_tracking_server_that_is_down_does_not_stop_the_run(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # the discard port: nothing listens
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    callback, message = mlflow_listener(TINY, tmp_path, "r1", tmp_path)
    assert callback is None and "could not start" in message and "training without it" in message
