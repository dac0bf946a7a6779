"""Generated digit domains: SynDigits-like printed digits and MNIST-M-like blends."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Fonts matplotlib ships that draw plain 0-9 glyphs (the symbol and display fonts do not).
DIGIT_FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmti10.ttf",
)
# scikit-image sample photos that ship inside its wheel (no pooch download).
PHOTO_NAMES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
               "hubble_deep_field", "colorwheel", "brick", "grass", "gravel")


def _font_dir() -> Path:
    import matplotlib
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@functools.cache
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_font_dir() / name), size)


def render_digits(per_class: int, seed: int = 0, size: int = 32) -> tuple[list[np.ndarray], np.ndarray]:
    """``per_class`` images of each digit: random font, size, colours, rotation, shift, blur.

    Seeded: the same (per_class, seed) gives the same pixels on every machine with the
    same fonts.
    """
    rng = np.random.default_rng(seed)
    fonts = [f for f in DIGIT_FONTS if (_font_dir() / f).exists()]
    labels = np.repeat(np.arange(10), per_class)
    rng.shuffle(labels)
    images = []
    canvas = size * 2  # draw large and centred, rotate, then crop: no clipped corners
    for label in labels:
        bg = rng.integers(0, 256, 3)
        fg = rng.integers(0, 256, 3)
        while np.abs(fg.astype(int) - bg).sum() < 200:  # keep the digit readable
            fg = rng.integers(0, 256, 3)
        img = Image.new("RGB", (canvas, canvas), tuple(int(v) for v in bg))
        font = _font(fonts[rng.integers(len(fonts))], int(rng.integers(size * 6 // 10, size * 9 // 10)))
        draw = ImageDraw.Draw(img)
        cx = canvas / 2 + rng.uniform(-size * 0.1, size * 0.1)
        cy = canvas / 2 + rng.uniform(-size * 0.1, size * 0.1)
        draw.text((cx, cy), str(label), font=font, fill=tuple(int(v) for v in fg), anchor="mm")
        img = img.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR, fillcolor=tuple(int(v) for v in bg))
        off = (canvas - size) // 2
        img = img.crop((off, off, off + size, off + size))
        if rng.random() < 0.5:
            img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
        arr = np.asarray(img, dtype=np.int16) + rng.normal(0, 6, (size, size, 3)).astype(np.int16)
        images.append(np.clip(arr, 0, 255).astype(np.uint8))
    return images, labels


@functools.lru_cache(maxsize=1)
def _photos() -> tuple[np.ndarray, ...]:
    import skimage.data
    photos = []
    for name in PHOTO_NAMES:
        try:
            img = getattr(skimage.data, name)()
        except Exception:  # noqa: BLE001 - an image that needs a download is simply left out
            continue
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=-1)
        photos.append(np.ascontiguousarray(img[..., :3]))
    if len(photos) < 3:
        raise RuntimeError("scikit-image's sample photos are missing; reinstall scikit-image")
    return tuple(photos)


def blend_over_photos(digits: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """MNIST-M's recipe (Ganin et al. 2016): |photo patch - digit| per colour channel."""
    rng = np.random.default_rng(seed + 1)
    photos = _photos()
    h, w = digits.shape[1:3]
    out = []
    for digit in digits:
        photo = photos[rng.integers(len(photos))]
        y = rng.integers(0, photo.shape[0] - h)
        x = rng.integers(0, photo.shape[1] - w)
        patch = photo[y:y + h, x:x + w].astype(np.int16)
        out.append(np.abs(patch - digit[..., None].astype(np.int16)).astype(np.uint8))
    return out
