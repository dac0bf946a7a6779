"""Flip test-time augmentation: the averaged probabilities, Predict with it, and a real
run's test split scored without and with it."""
import numpy as np
import pytest
import torch

from tlcore.data import load_domain
from tlcore.predict import NoCheckpoint, Predictor, evaluate_with_tta, tta_mode, tta_probabilities


def test_flip_probabilities_are_the_mean_of_the_two_views():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 5, 6)).eval()  # not mirror-invariant
    x = torch.randn(7, 3, 4, 5)
    plain, mirrored = model(x).softmax(1), model(x.flip(3)).softmax(1)
    assert torch.allclose(tta_probabilities(model, x, "flip"), (plain + mirrored) / 2)
    assert torch.allclose(tta_probabilities(model, x, True), (plain + mirrored) / 2)
    assert torch.allclose(tta_probabilities(model, x), plain)
    assert not torch.allclose(plain, mirrored)


@pytest.mark.parametrize("bad", ["rotate", "", 3, "flip; rm -rf /"])
def test_an_unknown_augmentation_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="use one of none, flip"):
        tta_mode(bad)


def test_predictor_with_flip_averages_each_image_with_its_mirror(recorded_runs):
    store, ids = recorded_runs
    predictor = Predictor(store.get(ids["gradual"]).folder, which="last")
    images = list(load_domain("syndigits", per_class=2).images[:6])  # 32 px: the run's size, no resize
    mirrored = [np.ascontiguousarray(im[:, ::-1]) for im in images]
    expected = (predictor.probabilities(images) + predictor.probabilities(mirrored)) / 2
    assert torch.allclose(predictor.probabilities(images, "flip"), expected, atol=1e-6)
    top = predictor.predict(images, k=2, tta=True)
    assert [t[0][1] for t in top] == pytest.approx(expected.max(1).values.tolist(), abs=1e-6)
    with pytest.raises(ValueError, match="unknown test-time augmentation"):
        predictor.predict_files([("a.png", b"")], tta="mirror")


def test_evaluate_with_tta_scores_the_run_s_test_split_both_ways(recorded_runs):
    store, ids = recorded_runs
    run = store.get(ids["gradual"])
    result = evaluate_with_tta(run.folder)
    saved = run.files.test_predictions()
    assert result["n"] == len(saved["true"]) and result["checkpoint"] == "last"
    for mode in ("none", "flip"):
        assert {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(result[mode])
        assert result[mode]["n"] == result["n"] and result["seconds"][mode] > 0
    # Without TTA it reproduces the score the run recorded with the same weights.
    assert result["none"]["accuracy"] == pytest.approx(run.summary["target.test.accuracy"])


def test_evaluate_with_tta_without_a_checkpoint_says_so(tmp_path):
    with pytest.raises(NoCheckpoint, match="no checkpoint yet"):
        evaluate_with_tta(tmp_path)
