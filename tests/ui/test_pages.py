"""Every page through Streamlit's AppTest (the real scripts, no browser): fresh-session
rendering, the default demo flow from Start to Evaluate and Predict, a refused upload."""
import time
from pathlib import Path

import hostile_files as h
import pytest
from streamlit.testing.v1 import AppTest

from pages.shared.setup import _store

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["pages/data.py", "pages/model.py", "pages/train.py", "pages/features.py", "pages/evaluate.py",
         "pages/predict.py", "pages/learn.py"]


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TLSTUDIO_MAX_JOBS", "1")
    _store.clear()  # the run store is a cached resource: point it at this test's folder
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception
    yield at
    from tlcore.runs import RunStore, scheduler
    scheduler.end_standby()
    store = RunStore(tmp_path / "runs")
    for run in store.list_runs():  # never leave a worker behind
        if run.status in ("queued", "running", "stopping"):
            scheduler.stop(store, run.id, grace_s=5)


def open_page(at, page):
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_a_fresh_session(app, page):
    at = open_page(app, page)
    assert at.title[0].value == Path(page).stem.capitalize()
    assert any("Device:" in m.value for m in at.sidebar.markdown)
    assert not at.error, [e.value for e in at.error]


def test_demo_flow_from_start_to_evaluate_and_predict(app):
    at = open_page(app, "pages/train.py")
    assert at.selectbox(key="train.strategy").value == "finetune"
    # A tiny configuration of the default demo: about 15 s on 2 cores, start-up included.
    at.number_input(key="train.epochs").set_value(2)
    at.number_input(key="train.per_class").set_value(20)
    at.number_input(key="train.image_size").set_value(32)
    at.run()
    at.button(key="ui.start").click().run()
    run_id = at.query_params["run"][0] if isinstance(at.query_params["run"], list) else at.query_params["run"]
    seen_step, deadline = 0, time.monotonic() + 150
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        shown = [c.value for c in at.caption if c.value.startswith("Shown: step")]
        seen_step = max(seen_step, int(shown[0].split()[2])) if shown else seen_step
        if any("finished" in m.value for m in at.markdown if m.value.startswith("####")):
            break
        time.sleep(1)
    else:
        pytest.fail("the demo run did not finish in time")
    assert seen_step > 0
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Target test accuracy"].endswith("%") and "before transfer" in at.metric[0].delta

    at = open_page(at, "pages/evaluate.py")
    scores = {m.label: m.value for m in at.metric}
    assert set(scores) == {"Accuracy", "Macro recall", "Macro F1"} and all(v.endswith("%") for v in scores.values())
    assert any("Misclassified test images" in s.value for s in at.subheader)
    assert at.selectbox(key="ui.pick_Run").value == run_id

    at = open_page(at, "pages/predict.py")
    at.file_uploader(key="ui.predict_files").set_value([("digit.png", h.png_bytes(), "image/png"),
                                                        ("broken.jpg", b"", "image/jpeg")]).run()
    assert not at.exception
    assert any(m.value.startswith("**digit.png** →") for m in at.markdown)
    assert any("Not classified" in e.value and "empty" in e.value for e in at.error)


def test_train_page_recommends_an_adaptation_method_and_applies_it(app):
    from tlcore.strategies.recommend import recommended_adaptation
    rec = recommended_adaptation()
    at = open_page(app, "pages/train.py")  # the demo pair: mnist is the source
    shown = [i.value for i in at.info if "Recommended" in i.value]
    assert len(shown) == 1 and f"`{rec.strategy}`" in shown[0] and "mnist → mnist-m" in shown[0], shown
    assert "Adapt automatically" in shown[0] and "worst pair" in shown[0]  # the measured automatic choice first
    assert not at.button(key="ui.adapt").disabled  # its button, in the expander below
    at.button(key="ui.use_recommended").click().run()
    assert not at.exception
    assert at.selectbox(key="train.strategy").value == rec.strategy
    for key, value in rec.params.items():
        assert at.number_input(key=f"train.hp.{rec.strategy}.{key}").value == value
    assert at.number_input(key="train.target_labels").value == 0
    assert "ui.use_recommended" not in [b.key for b in at.button]  # already in use
    assert not at.button(key="ui.start").disabled


def test_a_refused_upload_shows_why_and_keeps_the_previous_choice(app):
    at = open_page(app, "pages/data.py")
    at.segmented_control(key="data.mode").set_value("Upload my images").run()
    at.file_uploader(key="data.upload_target_zip").set_value(("slip.zip", h.zip_slip(), "application/zip")).run()
    assert not at.exception
    assert any("cannot be used" in e.value and "climbs out" in e.value for e in at.error)
    assert at.session_state["data.target"] == "syndigits"  # the demo target is still the one used
    at.file_uploader(key="data.upload_target_zip").set_value(
        ("pets.zip", h.zip_of(h.good_members(("cat", "dog"), 4)), "application/zip")).run()
    assert any("Using pets.zip: 8 images in 2 classes" in s.value for s in at.success)
    assert at.session_state["data.target_label"] == "pets.zip"
    assert Path(at.session_state["data.target"]).parent.name == "uploads"


def test_images_typed_in_per_class_become_the_target(app):
    at = open_page(app, "pages/data.py")
    at.segmented_control(key="data.mode").set_value("Upload my images").run()
    at.radio(key="data.target_how").set_value("Images per class").run()
    at.text_input(key="data.target_class0").set_value("round").run()
    at.text_input(key="data.target_class1").set_value("square").run()
    for i in range(2):
        at.file_uploader(key=f"data.upload_target_class{i}").set_value(
            [(f"img{k}.png", h.png_bytes(seed=10 * i + k), "image/png") for k in range(4)]).run()
    at.button(key="ui.target_use_classes").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("8 images in 2 classes" in s.value for s in at.success)
    assert at.session_state["data.target_label"] == "images per class"
    assert any("Training on:** target `images per class`" in m.value for m in at.markdown)


def test_weights_upload_accepts_safetensors_and_refuses_a_pickle_payload(app, tmp_path):
    import torch
    from safetensors.torch import save as save_safetensors

    from tlcore.backbones import create_backbone
    at = open_page(app, "pages/model.py")
    at.selectbox(key="model.backbone").set_value("dann_digits_cnn").run()
    assert at.radio(key="model.weights_choice").options == ["None (random init)", "Upload a weights file"]
    at.radio(key="model.weights_choice").set_value("Upload a weights file").run()
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"body.conv1.0.weight": h.Payload(str(marker))}, evil)
    at.file_uploader(key="model.upload_weights").set_value(("evil.pt", evil.read_bytes(), "application/octet-stream"))
    at.run()
    assert not at.exception and not marker.exists()  # refused, and the payload never ran
    assert any("cannot be used" in e.value and "refused" in e.value for e in at.error)
    assert at.session_state["model.weights"] == "none"
    state = {k: v.contiguous() for k, v in create_backbone("dann_digits_cnn", "none", 10).state_dict().items()}
    at.file_uploader(key="model.upload_weights").set_value(
        ("mine.safetensors", save_safetensors(state), "application/octet-stream")).run()
    assert any("mine.safetensors fits dann_digits_cnn" in s.value for s in at.success)
    assert at.session_state["model.weights"].startswith("file:") and \
        at.session_state["model.weights"].endswith(".safetensors")


def test_a_failed_run_shows_its_error_log_tail_and_resume(app, tmp_path):
    from tlcore.config import RunConfig
    from tlcore.runs import RunStore
    store = RunStore(tmp_path / "runs")
    run_id = store.create_run(RunConfig(), "broken run")
    (Path(store.get(run_id).folder) / "worker.log").write_text("loading data\nMemoryError: out of memory\n")
    store.update(run_id, status="failed", error="the worker process ended without reporting (killed or crashed)")
    at = open_page(app, "pages/train.py")
    at.query_params["run"] = run_id
    at.run()
    assert any("The run failed: the worker process ended" in e.value for e in at.error)
    assert any("MemoryError: out of memory" in c.value for c in at.code)
    assert at.button(key="ui.resume").label == "Resume"


def wait_for(at, done, seconds=240):
    """Rerun the page (as the fragment's timer would) until ``done(at)`` or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if done(at):
            return at
        time.sleep(1)
    pytest.fail("the page did not get there in time")


def test_pretrained_map_of_the_demo_pair_before_training(app):
    at = open_page(app, "pages/data.py")
    assert "A-distance (0-2)" not in [m.label for m in at.metric]  # only on request
    at.session_state["train.per_class"] = 30  # the probe the Train page's setting would load: kept small
    at.button(key="ui.map_pretrained").click().run()
    assert not at.exception
    # A background job computes the features and the UMAP layout; the page polls its files.
    at = wait_for(at, lambda at: any(c.value == "UMAP" for c in at.caption) and at.metric)
    gap = {m.label: m.value for m in at.metric}
    assert float(gap["A-distance (0-2)"]) > 1.5  # handwritten vs printed digits: easy to tell apart
    assert 15 < int(gap["Target 5-NN accuracy"].rstrip("%")) < 100  # measured 38-45%, chance 10%
    assert len(at.get("plotly_chart")) >= 1
    at.segmented_control(key="data.map_colour").set_value("class").run()
    assert not at.exception


def test_features_page_draws_a_runs_maps(app, recorded_runs, tmp_path):
    """A recorded DANN run's snapshots, laid out as the layout process does, on the page:
    before vs now side by side, the gap numbers with their change, the gap over epochs."""
    import shutil

    from tlcore.embed.layout import process_pending
    from tlcore.runs import RunStore
    store, ids = recorded_runs
    mine = RunStore(tmp_path / "runs")
    run_id = mine.create_run(store.get(ids["dann"]).config, "dann map")
    folder = Path(mine.get(run_id).folder) / "snapshots"
    shutil.copytree(Path(store.get(ids["dann"]).folder) / "snapshots", folder)
    assert process_pending(folder) == 3
    mine.update(run_id, status="finished")
    app.query_params["run"] = run_id
    at = open_page(app, "pages/features.py")
    assert not at.error and not at.info
    titles = [c.value for c in at.caption]
    assert "UMAP" in titles and any(t.startswith("UMAP · draw a box") for t in titles)
    metrics = {m.label: m for m in at.metric}
    assert {"A-distance (0-2)", "MMD²", "Target 5-NN accuracy", "Source 5-NN accuracy"} <= set(metrics)
    assert metrics["MMD²"].delta.endswith("since epoch 0")
    assert len(at.get("plotly_chart")) == 3  # before, now, gap over epochs
    at.toggle(key="feat.replay").set_value(True).run()
    assert len(at.get("plotly_chart")) == 4  # and the replay
    assert at.select_slider(key="ui.features.epoch").value == 2
    at.select_slider(key="ui.features.epoch").set_value(1).run()
    at.segmented_control(key="feat.colour").set_value("correct").run()
    assert not at.exception and at.select_slider(key="ui.features.epoch").value == 1
