"""Built-in domains: real data from installed packages, shared digit labels, seeded."""
import numpy as np
import pytest
from conftest import need_domain

from tlcore.data import domain_info, list_domains, load_domain, load_image_set
from tlcore.registry import UnknownNameError

DIGIT_DOMAINS = ["mnist", "mnist-m", "syndigits", "digits-uci"]


@pytest.mark.parametrize("name", ["mnist", "mnist-m", "syndigits", "digits-uci", "fashion", "clipart"])
def test_domain_loads_real_images_with_labels(name):
    need_domain(name)
    info = domain_info(name)
    s = load_domain(name)
    assert len(s) == info.num_images
    assert s.class_names == info.class_names and set(np.unique(s.labels)) == set(range(len(info.class_names)))
    assert all(im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3 for im in s.images)
    assert max(s.images[0].shape[:2]) == info.image_size
    assert {"train", "val", "test"} == set(s.splits.tolist())
    # Real pictures, not blanks: pixel values vary within and across images.
    assert np.mean([im.std() for im in s.images[:50]]) > 10
    assert np.std([im.mean() for im in s.images[:50]]) > 1
    assert info.licence and info.provider and s.report.usable


def test_digit_domains_share_one_label_set():
    names = {domain_info(n).class_names for n in DIGIT_DOMAINS}
    assert names == {tuple(str(d) for d in range(10))}


def test_syndigits_is_seeded_and_any_size():
    a, b = load_domain("syndigits", per_class=3, seed=1), load_domain("syndigits", per_class=3, seed=1)
    c = load_domain("syndigits", per_class=3, seed=2)
    assert len(a) == 30 and all((x == y).all() for x, y in zip(a.images, b.images))
    assert not all((x == y).all() for x, y in zip(a.images, c.images))


def test_mnist_m_is_mnist_over_photos():
    mnist, mnistm = load_domain("mnist", per_class=20), load_domain("mnist-m", per_class=20)
    assert (mnist.labels == mnistm.labels).all()
    # The same digit: where MNIST has ink, MNIST-M differs from its background photo,
    # and the colour channels differ (photos are colour, MNIST is grey).
    assert np.mean([im.std(axis=2).mean() for im in mnistm.images]) > 5
    assert np.mean([im.std(axis=2).mean() for im in mnist.images]) == 0


def test_per_class_sampling_is_stratified():
    s = load_domain("mnist", per_class=7, seed=3)
    assert set(s.class_counts().values()) == {7}


def test_unknown_domain_lists_valid_names():
    with pytest.raises(UnknownNameError, match="valid choices: .*mnist"):
        load_domain("mnsit")
    assert set(DIGIT_DOMAINS) <= set(list_domains())


def test_load_image_set_takes_names_and_paths(tmp_path):
    assert load_image_set("digits-uci").name == "digits-uci"
    from tlcore.data import IngestError
    with pytest.raises(IngestError, match="no such file or folder"):
        load_image_set(str(tmp_path / "nope"))


def test_missing_debian_data_says_how_to_get_it(monkeypatch, tmp_path):
    from tlcore.data import DomainUnavailable, domains
    monkeypatch.setattr(domains, "FASHION_DIR", tmp_path)
    with pytest.raises(DomainUnavailable, match="apt-get install dataset-fashion-mnist"):
        load_domain("fashion")


def test_clipart_sketch_is_the_clip_art_as_grey_outlines():
    need_domain("clipart-sketch")
    art, sketch = load_domain("clipart", per_class=4), load_domain("clipart-sketch", per_class=4)
    assert sketch.class_names == art.class_names and (sketch.labels == art.labels).all()
    assert all(a.shape == s.shape for a, s in zip(art.images, sketch.images))
    assert np.mean([im.std(axis=2).mean() for im in sketch.images]) == 0  # grey: no colour left
    assert np.mean([im.mean() for im in sketch.images]) > 200  # mostly white paper, dark lines
