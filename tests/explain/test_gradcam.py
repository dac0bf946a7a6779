"""Grad-CAM heat maps: a layer for every registered backbone, maps that point at the object
on the real pretrained default, a trained run's test images, and the Predict page's toggle."""
import dataclasses
import json
import shutil
from pathlib import Path

import hostile_files as h
import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image
from torchvision.models import ResNet18_Weights

from tlcore.backbones import create_backbone, list_backbones
from tlcore.explain import CamExplainer, NoSpatialLayer, heatmaps, overlay, run_test_images

CATEGORIES = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]  # ImageNet class names, offline
CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}
# ViT-B/16 (torchvision) only accepts 224 px; the rest run small to stay fast.
SIZES = {"vit_b_16": 224, "dann_digits_cnn": 28}
LAYERS = {"efficientnet_lite0": "body.bn2", "resnet18": "body.layer4", "convnext_tiny": "body.features.7",
          "mobilenet_v3_small": "body.features.12", "efficientnet_b0": "body.features.8",
          "dann_digits_cnn": "body.conv2", "vit_b_16": "body.encoder.layers.encoder_layer_11.ln_1"}


def random_images(n, shape=(40, 52, 3), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]


def shortened_vit(model):
    """ViT-B/16 cut to its last 2 of 12 encoder layers: the same modules, names and stages
    (the first three stages left empty), a sixth of the compute of a 224-px pass."""
    from collections import OrderedDict
    layers = model.body.encoder.layers
    model.body.encoder.layers = torch.nn.Sequential(OrderedDict(list(layers.named_children())[-2:]))
    return model


@pytest.mark.parametrize("name", list_backbones())
def test_every_backbone_gets_a_layer_and_maps_and_is_left_unchanged(name):
    torch.manual_seed(0)
    model = create_backbone(name, "none", num_classes=3).eval()
    if name == "vit_b_16":
        model = shortened_vit(model)
    model.train()  # a caller's mode must survive
    before = {k: v.clone() for k, v in model.state_dict().items()}
    size = SIZES.get(name, 64)
    explainer = CamExplainer.for_model(model, size)
    result = explainer.explain(random_images(2), [2, 0])
    assert result.heat.shape == (2, size, size) and result.heat.dtype == np.float32
    assert np.isfinite(result.heat).all() and result.heat.min() >= 0 and result.heat.max() <= 1
    assert result.probs.shape == (2, 3) and np.allclose(result.probs.sum(1), 1, atol=1e-5)
    assert min(explainer.layer.grid) >= 2
    if name in LAYERS:
        assert explainer.layer.name == LAYERS[name]
    # The model itself: same weights, no gradients left behind, trainable as before, same mode.
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    assert model.training


def test_small_inputs_fall_back_to_a_layer_with_a_map_or_say_why():
    lite0 = create_backbone("efficientnet_lite0", "none", num_classes=3)
    explainer = CamExplainer.for_model(lite0, 32)  # the last stage is 1 x 1 here
    assert explainer.layer.name.startswith("body.blocks.") and explainer.layer.grid == (2, 2)
    with pytest.raises(NoSpatialLayer, match="no feature map of at least 2 x 2 cells at 2 px"):
        CamExplainer.for_model(create_backbone("resnet18", "none", num_classes=3), 2)
    with pytest.raises(NoSpatialLayer, match="dann_digits_cnn cannot run on 8-px images"):
        CamExplainer.for_model(create_backbone("dann_digits_cnn", "none", num_classes=3), 8)
    with pytest.raises(NoSpatialLayer, match="no stages"):
        CamExplainer(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten()), 16, (0.5,) * 3, (0.5,) * 3)
    with pytest.raises(ValueError, match="out of range"):
        explainer.explain(random_images(1), [7])


def paste(canvas_px, left=None, right=None, seed=0):
    """A grey noise canvas with an object photo in the middle of its left and/or right half."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-20, 21, (canvas_px, canvas_px, 3))
    canvas = (128 + noise).astype(np.uint8)
    half = canvas_px // 2
    for photo, x0 in ((left, 0), (right, half)):
        if photo is not None:
            canvas[half // 2:half // 2 + half, x0:x0 + half] = np.asarray(Image.fromarray(photo).resize((half, half)))
    return canvas


def halves(heat):
    w = heat.shape[1] // 2
    return heat[:, :w].mean(), heat[:, w:].mean()


@pytest.fixture(scope="module")
def lite0_cam(lite0):
    return CamExplainer.for_model(lite0)  # 224 px, mean/std 0.5, the 1000 ImageNet classes


@pytest.mark.parametrize("side", ["left", "right"])
def test_pretrained_default_looks_at_the_object(lite0_cam, side):
    image = paste(224, **{side: skimage.data.chelsea()})
    top = int(lite0_cam.logits([image])[0].argmax())
    assert CATEGORIES[top] in CAT_CLASSES
    left, right = halves(lite0_cam.explain([image], [top]).heat[0])
    inside, outside = (left, right) if side == "left" else (right, left)
    assert inside > 3 * outside, (inside, outside)  # measured: 0.50 vs 0.05


def test_two_classes_in_one_image_get_two_different_maps(lite0_cam):
    image = paste(224, left=skimage.data.coffee(), right=skimage.data.chelsea())
    result = lite0_cam.explain([image, image], [CATEGORIES.index("espresso"), CATEGORIES.index("Egyptian cat")])
    cup, cat = result.heat
    assert halves(cup)[0] > 3 * halves(cup)[1]  # espresso: the left half (measured 0.34 vs 0.05)
    assert halves(cat)[1] > 3 * halves(cat)[0]  # the cat: the right half (measured 0.40 vs 0.06)
    assert np.corrcoef(cup.ravel(), cat.ravel())[0, 1] < 0
    assert result.probs[0].argmax() == result.probs[1].argmax()  # one forward each, the same image


def test_overlay_paints_the_map_at_the_image_size():
    image = np.zeros((30, 50, 3), np.uint8)
    heat = np.zeros((8, 8), np.float32)
    heat[:, 4:] = 1.0  # the right half hot
    painted = overlay(image, heat)
    assert painted.shape == (30, 50, 3) and painted.dtype == np.uint8
    hot, cold = painted[:, -5:].mean((0, 1)), painted[:, :5].mean((0, 1))
    assert hot[0] > 50 > hot[2] and cold[2] > 50 > cold[0]  # jet: red where hot, blue where cold


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One real finetune run, 1 epoch of the DANN digits CNN at 28 px: under a second, where
    the default backbone takes 5-12 s (that one is tested above, pretrained)."""
    from tlcore.config import DataConfig, ModelConfig, RunConfig, ScheduleConfig
    from tlcore.runs import RunStore
    from tlcore.runs.worker import run_recorded
    store = RunStore(tmp_path_factory.mktemp("gradcam") / "runs")
    config = RunConfig(data=DataConfig(target="syndigits", per_class=10, image_size=28),
                       model=ModelConfig(backbone="dann_digits_cnn", weights="none", freeze="none"),
                       schedule=ScheduleConfig(epochs=1), batch_size=16)
    run_id = store.create_run(config, "tiny")
    assert run_recorded(store, run_id).status == "finished"
    return store, run_id


def test_a_run_s_predictor_and_test_images_give_maps(tiny_run):
    from tlcore.predict import Predictor
    from tlcore.runs.read import target_test_predictions
    store, run_id = tiny_run
    folder = Path(store.get(run_id).folder)
    test = run_test_images(folder)
    saved = target_test_predictions(store, run_id)
    assert test.note is None and test.ids == saved["ids"] and test.images[0].ndim == 3
    predictor = Predictor(folder, which="last")
    first = test.images[:3]
    pred = [saved["pred"][i] for i in range(3)]
    other = [(p + 1) % len(saved["class_names"]) for p in pred]
    maps = heatmaps(predictor, first + first, pred + other)
    assert maps.shape == (6, 28, 28) and np.isfinite(maps).all()
    assert not np.allclose(maps[:3], maps[3:])  # another class, another map
    assert all(p.grad is None for p in predictor.model.parameters())


def test_missing_run_data_falls_back_to_the_thumbnails(tiny_run, tmp_path):
    store, run_id = tiny_run
    folder = tmp_path / "copy"
    shutil.copytree(store.get(run_id).folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config["data"]["target"] = str(tmp_path / "gone.zip")  # an upload deleted since
    (folder / "config.json").write_text(json.dumps(config))
    test = run_test_images(folder)
    assert "64-px thumbnails" in test.note and test.images[0].shape == (64, 64, 3)


def test_predict_page_shows_the_heat_maps(tiny_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from pages.shared.setup import _store
    store, run_id = tiny_run
    monkeypatch.setenv("TLSTUDIO_RUNS_DIR", str(store.root))
    _store.clear()  # the run store is a cached resource: point it at this test's folder
    root = Path(__file__).resolve().parents[2]
    at = AppTest.from_file(str(root / "app.py"), default_timeout=120)
    at.query_params["run"] = run_id
    at.run()
    at.switch_page("pages/predict.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.toggle(key="ui.predict_gradcam").set_value(True).run()
    at.file_uploader(key="ui.predict_files").set_value([("digit.png", h.png_bytes(), "image/png"),
                                                        ("broken.jpg", b"", "image/jpeg")]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Not classified" in e.value for e in at.error)
    assert any(c.value.startswith("Heat maps of each image's top class") for c in at.caption)
    captions = [c for image in at.image for c in image.captions]
    assert sum("evidence for" in c for c in captions) == 1, captions  # the one image that decoded


def _evaluate_section(run: dict, predictions: dict):
    """The call evaluate.py makes, as a script of its own (AppTest runs it as a page)."""
    from pages.shared.gradcam_view import gradcam_section
    gradcam_section(run, predictions)


def test_evaluate_section_shows_predicted_and_true_class_maps(tiny_run, tmp_path):
    from streamlit.testing.v1 import AppTest

    from tlcore.runs.read import target_test_predictions
    store, run_id = tiny_run
    run, predictions = store.get(run_id), target_test_predictions(store, run_id)
    at = AppTest.from_function(_evaluate_section, args=(run, predictions), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [c for image in at.image for c in image.captions]
    assert len(captions) == 3 * 4  # 4 images: original, predicted class, true class (or the runner-up)
    assert sum(c.startswith("predicted: ") for c in captions) == 4
    assert any(c.startswith("true: ") for c in captions)  # a one-epoch CNN gets some wrong
    assert any(c.value.startswith("Read from layer `body.conv2`") for c in at.caption)
    # A run folder without a checkpoint: a message, not a traceback.
    at = AppTest.from_function(_evaluate_section, args=(dataclasses.replace(run, folder=tmp_path), predictions),
                               default_timeout=60)
    at.run()
    assert not at.exception and any("No heat maps for this run" in i.value and "no checkpoint" in i.value
                                    for i in at.info)
