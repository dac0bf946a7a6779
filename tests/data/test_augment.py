"""Augmentation presets on real images (per sample, seeded, shape- and order-keeping), the
preview grid, and the class-balanced sampler with its "auto" rule."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tlcore.config import AUGMENTATIONS, DataConfig
from tlcore.data import load_domain
from tlcore.data.augment import ALIASES, PRESETS, augment_batch, preview_grid, preview_images
from tlcore.data.pipeline import (BatchPreprocess, ResizedImages, TensorBatches, balanced_sampling,
                                  class_balance_weights, make_loader)
from tlcore.data.report import IMBALANCE_RATIO, IngestReport, _warn_counts, is_imbalanced

ALL_PRESETS = [*PRESETS, *ALIASES]


@pytest.fixture(scope="module")
def digits():
    return load_domain("syndigits", per_class=30, seed=0)


@pytest.fixture(scope="module")
def batch(digits):
    """32 syndigits images, 48 px, decoded and resized once as training does, with labels."""
    ds = ResizedImages(digits, 48, np.arange(0, 300, 9)[:32])
    return torch.stack([ds[i][0] for i in range(32)]), torch.as_tensor(ds.labels)


def standardised(x: torch.Tensor) -> torch.Tensor:
    """Grey images with zero mean and unit std each: brightness and contrast factors cancel,
    what is left is where things are (the crop)."""
    g = x.float().mean(1).flatten(1)
    return (g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + 1e-6)


def test_the_offered_presets_are_the_described_ones_and_flip_is_kept_for_replays():
    assert AUGMENTATIONS == ("none", "light", "standard", "strong") == tuple(PRESETS)
    assert "flip" not in AUGMENTATIONS and "flip" in ALIASES
    assert all(PRESETS[n] for n in PRESETS)
    BatchPreprocess((0.5,) * 3, (0.5,) * 3, "flip")  # an old run config still builds
    with pytest.raises(ValueError, match="unknown augmentation 'heavy'"):
        BatchPreprocess((0.5,) * 3, (0.5,) * 3, "heavy")


@pytest.mark.parametrize("preset", ALL_PRESETS)
def test_every_preset_keeps_shape_dtype_and_order(preset, batch):
    x, y = batch
    torch.manual_seed(0)
    out = augment_batch(x, preset)
    assert out.shape == x.shape and out.dtype == torch.uint8 and out.device == x.device
    assert (preset == "none") == torch.equal(out, x)
    # Through the training preprocess: a normalised float batch of the same shape, finite.
    pre = BatchPreprocess((0.5,) * 3, (0.25,) * 3, preset)
    z = pre(x, train=True)
    assert z.shape == x.shape and z.dtype == torch.float32 and torch.isfinite(z).all()
    assert z.min() >= -2 - 1e-6 and z.max() <= 2 + 1e-6  # (0..1 - 0.5) / 0.25
    assert torch.equal(pre(x), BatchPreprocess((0.5,) * 3, (0.25,) * 3)(x))  # evaluation never augments


@pytest.mark.parametrize("preset", ALL_PRESETS)
def test_view_i_is_made_from_image_i_alone(preset, batch):
    # The labels are not touched, so the views must keep the images' order: the batch gives
    # what the images augmented one at a time give, with the same random draws.
    x, _ = batch
    torch.manual_seed(1)
    together = augment_batch(x, preset)
    torch.manual_seed(1)
    one_by_one = torch.cat([augment_batch(x[i:i + 1], preset) for i in range(len(x))])
    assert torch.equal(together, one_by_one)


@pytest.mark.parametrize("preset", ["light", "standard", "strong"])
def test_each_image_of_a_batch_gets_its_own_crop(preset, batch):
    x, _ = batch
    same = x[:1].expand(16, -1, -1, -1).contiguous()  # one image 16 times
    torch.manual_seed(2)
    views = standardised(augment_batch(same, preset))
    apart = torch.cdist(views, views)[~torch.eye(16, dtype=torch.bool)]
    # One crop for the whole batch (the old 'light') would leave the copies equal up to brightness.
    assert (apart > 1.0).float().mean() > 0.8


@pytest.mark.parametrize("preset", ["light", "standard", "strong"])
def test_the_same_seed_gives_the_same_batch(preset, batch):
    x, _ = batch
    torch.manual_seed(7)
    a = augment_batch(x, preset)
    torch.manual_seed(7)
    b = augment_batch(x, preset)
    assert torch.equal(a, b)
    assert not torch.equal(a, augment_batch(x, preset))  # the RNG moved on: new views
    # With a generator: reproducible from it, and torch's global RNG is left as it was.
    state = torch.get_rng_state()
    c = augment_batch(x, preset, torch.Generator().manual_seed(3))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(c, augment_batch(x, preset, torch.Generator().manual_seed(3)))
    assert not torch.equal(c, augment_batch(x, preset, torch.Generator().manual_seed(4)))


def test_augment_batch_refuses_what_is_not_a_uint8_image_batch(batch):
    x, _ = batch
    with pytest.raises(ValueError, match="uint8"):
        augment_batch(x.float(), "light")
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment_batch(x, "heavy")


def test_the_preview_grid_has_a_row_per_image_and_the_original_first(digits):
    images = preview_images(digits, count=4, seed=0)
    assert len({int(digits.labels[next(i for i, im in enumerate(digits.images) if im is pic)])
                for pic in images}) == 4  # four different classes
    grid = preview_grid(images, "standard", n=8, seed=0, size=40, gap=2)
    assert grid.shape == (4 * 40 + 3 * 2, 9 * 40 + 8 * 2, 3) and grid.dtype == np.uint8
    assert (grid[40:42] == 255).all()  # the gap between rows
    plain = preview_grid(images, "none", n=8, seed=0, size=40, gap=2)
    assert np.array_equal(plain[:, :40], grid[:, :40])  # the first column: the images as loaded
    assert all(np.array_equal(plain[:40, :40], plain[:40, c * 42:c * 42 + 40]) for c in range(9))
    assert np.array_equal(grid, preview_grid(images, "standard", n=8, seed=0, size=40, gap=2))
    assert not np.array_equal(grid, preview_grid(images, "standard", n=8, seed=1, size=40, gap=2))


# ---- class balance


@pytest.fixture(scope="module")
def imbalanced(digits):
    """syndigits at 16 px with class 0 at 30 images and the nine others at 6 each (5x)."""
    labels = np.asarray(digits.labels)
    index = np.concatenate([np.flatnonzero(labels == c)[:30 if c == 0 else 6] for c in range(10)])
    return ResizedImages(digits, 16, index)


def test_auto_uses_the_ingest_warning_rule(digits, imbalanced):
    counts = np.bincount(imbalanced.labels)
    assert counts.max() / counts.min() > IMBALANCE_RATIO and is_imbalanced(counts)
    assert balanced_sampling(imbalanced.labels, "auto") and balanced_sampling(imbalanced.labels, "sampler")
    assert not balanced_sampling(imbalanced.labels, "off")
    assert not balanced_sampling(digits.labels, "auto") and balanced_sampling(digits.labels, "sampler")
    with pytest.raises(ValueError, match="unknown balance"):
        balanced_sampling(digits.labels, "always")
    assert DataConfig().balance == "auto"
    for class_counts in ({"a": 30, "b": 6}, {"a": 30, "b": 10}, {"a": 30, "b": 0, "c": 12}):
        report = IngestReport("x", class_counts=class_counts)
        _warn_counts(report)
        assert any("class imbalance" in w for w in report.warnings) == is_imbalanced(class_counts.values())


def class_draws(batches) -> np.ndarray:
    return np.bincount(np.concatenate([np.asarray(b[1]) for b in batches]), minlength=10)


def test_the_balanced_loader_draws_every_class_about_equally(imbalanced):
    plain = make_loader(imbalanced, 12, True, seed=0)  # 84 images: 7 whole batches, nothing dropped
    balanced = make_loader(imbalanced, 12, True, seed=0, balanced=True)
    assert len(balanced) == len(plain)  # the same epoch length
    torch.manual_seed(0)
    draws = sum(class_draws(balanced) for _ in range(20))  # 20 epochs of 84 images
    assert draws.min() > 0.7 * draws.mean() and draws.max() < 1.3 * draws.mean()
    assert class_draws(plain)[0] == 30  # without: class 0 is a third of every epoch
    weights = class_balance_weights(imbalanced.labels)
    assert torch.allclose(weights[imbalanced.labels == 0], torch.tensor(1 / 30, dtype=torch.double))


def test_the_cached_feature_loader_balances_too(imbalanced):
    labels = torch.as_tensor(imbalanced.labels)
    tensors = (torch.randn(len(labels), 5), labels, torch.arange(len(labels)))
    plain = TensorBatches(tensors, 12, seed=0, device="cpu")
    balanced = TensorBatches(tensors, 12, seed=0, device="cpu", balanced=True)
    assert len(balanced) == len(plain)
    draws = sum(class_draws(balanced) for _ in range(20))
    assert draws.min() > 0.7 * draws.mean() and draws.max() < 1.3 * draws.mean()
    features, y, i = next(iter(balanced))
    assert torch.equal(tensors[0][i], features) and torch.equal(labels[i], y)  # rows stay together


def test_build_loaders_balances_the_labelled_loader_and_says_when_auto_did(digits, imbalanced):
    from lightning_fabric import Fabric

    from tlcore.train.batches import balanced_kinds, build_loaders
    even = ResizedImages(digits, 16, np.arange(len(digits)))  # 30 of each class

    def context(balance: str, target_labelled):
        sets = {"target_labelled": target_labelled, "target_unlabelled": imbalanced}
        return SimpleNamespace(config=SimpleNamespace(data=DataConfig(balance=balance), batch_size=8, seed=0),
                               fabric=Fabric(accelerator="cpu", devices=1), warnings=[], dataset=sets.__getitem__,
                               strategy_info=SimpleNamespace(needs_source=False, needs_target_labels=True,
                                                             semi_supervised=True, uses_unlabelled_target=True),
                               data=SimpleNamespace(target_labelled=target_labelled.index))

    ctx = context("auto", imbalanced)
    loaders, main = build_loaders(ctx, cached=False)
    assert main == "tgt" and set(loaders) == {"tgt", "tgt_u"}
    assert type(loaders["tgt"].sampler).__name__ == "WeightedRandomSampler"
    assert type(loaders["tgt_u"].sampler).__name__ == "RandomSampler"  # unlabelled: never balanced
    assert len(ctx.warnings) == 1 and "target labelled set is imbalanced (30 vs 6" in ctx.warnings[0]
    assert balanced_kinds(context("auto", even), ["tgt", "tgt_u"]) == set()
    ctx = context("sampler", even)
    assert balanced_kinds(ctx, ["tgt", "tgt_u"]) == {"tgt"} and not ctx.warnings  # asked for: nothing to say
    assert balanced_kinds(context("off", imbalanced), ["tgt", "tgt_u"]) == set()
