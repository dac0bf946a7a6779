"""The optimal linear head (tlcore.features.fit_linear_head) on real pretrained features of
a built-in domain: it is sklearn's logistic regression solved by another L-BFGS, its L2
strength is chosen on validation, and a frozen-backbone run ends exactly on the
before-transfer probe, never below it."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tests.conftest import need_domain
from tlcore.config import DataConfig, OptimConfig, RunConfig, ScheduleConfig
from tlcore.features import C_GRID, SoftmaxHead, extract_features, fit_linear_head


@pytest.fixture(scope="module")
def clipart_features(lite0):
    need_domain("clipart")
    from tlcore.data import load_domain
    from tlcore.data.pipeline import ResizedImages
    data = load_domain("clipart", per_class=20)
    parts = {}
    for split in ("train", "val"):
        index = np.flatnonzero(data.splits == split)
        images = ResizedImages(data, 48, index)
        parts[split] = extract_features(lite0, images).numpy(), images.labels
    return parts, len(data.class_names)


@pytest.mark.parametrize("C", [0.01, 1.0])
def test_the_head_is_sklearn_s_logistic_regression(clipart_features, C):
    (train_f, train_y), (val_f, _), k = *clipart_features[0].values(), clipart_features[1]
    ours = SoftmaxHead(train_f, train_y, k, C)
    mu, sd = ours.mu, ours.sd  # the same standardisation (a near-constant feature's scale is floored)
    theirs = LogisticRegression(C=C, max_iter=5000, tol=1e-8).fit((train_f - mu) / sd, train_y)
    p_ours, p_theirs = ours.predict_proba(val_f), theirs.predict_proba((val_f - mu) / sd)
    assert np.abs(p_ours - p_theirs).max() < 1e-2
    assert (ours.predict(val_f) == theirs.predict((val_f - mu) / sd)).mean() >= 0.98
    # And it is at the optimum: sklearn's objective is no lower at sklearn's own solution.
    x = (train_f.astype(np.float64) - mu) / sd

    def objective(w, b):
        z = x @ w.T + b
        z -= z.max(1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -C * log_p[np.arange(len(train_y)), train_y].sum() + 0.5 * (w ** 2).sum()

    ours_value = objective(ours.weight.numpy(), ours.bias.numpy())
    assert ours_value <= objective(theirs.coef_, theirs.intercept_) * (1 + 1e-4)


def test_the_folded_linear_layer_gives_the_same_logits(clipart_features):
    (train_f, train_y), (val_f, _), k = *clipart_features[0].values(), clipart_features[1]
    head = SoftmaxHead(train_f, train_y, k, 0.1)
    weight, bias = head.linear_weights(k)
    import torch
    logits = torch.as_tensor(val_f) @ weight.T + bias
    assert np.allclose(logits.numpy(), head.logits(val_f).numpy(), atol=1e-3)


def test_the_l2_strength_is_chosen_on_validation(clipart_features):
    (train_f, train_y), (val_f, val_y), k = *clipart_features[0].values(), clipart_features[1]
    fit = fit_linear_head(train_f, train_y, val_f, val_y, k)
    assert [row["C"] for row in fit.candidates] == list(C_GRID)
    best = max(row["val_accuracy"] for row in fit.candidates)
    chosen = next(row for row in fit.candidates if row["C"] == fit.C)
    assert chosen["val_accuracy"] == best
    assert fit_linear_head(train_f, train_y, None, None, k).C == 1.0  # no val images: sklearn's default


def test_a_frozen_backbone_run_never_ends_below_its_probe(tmp_path):
    need_domain("clipart")
    from tlcore import fit
    config = RunConfig(data=DataConfig(target="clipart", per_class=20, target_labels_per_class=10, image_size=48),
                       schedule=ScheduleConfig(epochs=5), threads=1)
    config = config.replace(model=config.model.__class__(freeze="all"))
    result = fit(config, tmp_path / "run")
    s = result.summary
    assert s["epochs_run"] == 1 and s["linear_head_C"] in C_GRID
    assert s["target.test.accuracy"] == pytest.approx(s["before.target.test.accuracy"], abs=1e-9)
    # The same run with SGD epochs, as before: what the solver replaces.
    sgd = fit(config.replace(optim=OptimConfig(head_solver="sgd")), tmp_path / "sgd").summary
    assert sgd["epochs_run"] == 5 and "linear_head_C" not in sgd


def test_with_augmentation_the_cache_holds_augmented_views_and_val_picks_the_head(tmp_path):
    need_domain("clipart")
    from tlcore import fit
    from tlcore.train.events import LogMessage, RunStarted
    config = RunConfig(data=DataConfig(target="clipart", per_class=20, target_labels_per_class=10, image_size=48,
                                       augment="standard"), cache_views=4, threads=1)
    config = config.replace(model=config.model.__class__(freeze="all"))
    events = []
    s = fit(config, tmp_path / "run", [events.append]).summary
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.feature_cache and s["feature_cache"]  # augmentation no longer turns the cache off
    assert len(started.context.training_features("target_labelled")[0]) == 4 * len(
        started.context.dataset("target_labelled"))
    assert any(isinstance(e, LogMessage) and "chosen on val" in e.text for e in events)
    # Val chose between the plain head (the probe's) and the augmented one: never below the probe
    # on val; on test it may differ from the probe, the choice being made on val.
    assert s["target.val.accuracy"] >= fit_val_of_probe(started.context) - 1e-9


def fit_val_of_probe(ctx) -> float:
    fit = ctx.linear_fit(("target_labelled",))
    return next(r for r in fit.candidates if r["C"] == fit.C)["val_accuracy"]
