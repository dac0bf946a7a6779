"""Decode one untrusted image file into an RGB uint8 array, or say why not.

Every image is fully decoded (a truncated file fails here, not in the middle of
training) under an explicit pixel limit that is checked from the header *before* the
pixels are decoded, so a 50000x50000 "decompression bomb" costs nothing.
"""
from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .limits import DEFAULT_MAX_PIXELS, PIXELS_ENV

# Extensions we try to decode. Anything else is skipped with a reason naming the type.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
# Pillow formats accepted after sniffing the bytes; the extension alone is not trusted.
ALLOWED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "BMP", "GIF", "WEBP", "TIFF"})
# Known image types Pillow cannot read: a more useful reason than "not an image".
UNSUPPORTED_IMAGE_TYPES = {
    ".svg": "SVG vector images are not supported; export it as PNG",
    ".heic": "HEIC images are not supported; convert it to JPEG or PNG",
    ".heif": "HEIF images are not supported; convert it to JPEG or PNG",
    ".avif": "AVIF images are not supported; convert it to JPEG or PNG",
    ".raw": "camera RAW files are not supported; convert it to JPEG or PNG",
    ".psd": "Photoshop files are not supported; export it as PNG",
}

DEFAULT_MAX_SIDE = 512  # decoded images are downscaled to this longer side to bound memory
TINY_SIDE = 16


class ImageRejected(Exception):
    """This one file is not a usable image; the message is the reason shown to the user."""


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # (H, W, 3) uint8
    original_size: tuple[int, int]  # (width, height) as stored, before downscaling
    digest: str  # hash of the decoded pixels: finds duplicates whatever the encoding


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: transparency is composited on white, 16-bit scaled."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr, mode="L")
    if img.mode == "P" or img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def decode_image(
    data: bytes,
    name: str = "",
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int | None = DEFAULT_MAX_SIDE,
) -> DecodedImage:
    """Decode ``data`` (the bytes of file ``name``) or raise :class:`ImageRejected`."""
    if not data:
        raise ImageRejected("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns at its global limit; ours is explicit below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format not in ALLOWED_FORMATS:
                raise ImageRejected(f"{img.format} images are not supported")
            width, height = img.size
            if width * height > max_pixels:
                raise ImageRejected(
                    f"image too large: {width}x{height} pixels is over the limit of "
                    f"{max_pixels:,} pixels (possible decompression bomb; {PIXELS_ENV} changes the limit)"
                )
            if width < 1 or height < 1:
                raise ImageRejected("image has no pixels")
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)  # animated GIF/WebP/TIFF: the first frame
            img.load()  # full decode: truncated or corrupt data fails here
            img = ImageOps.exif_transpose(img)
            img = _to_rgb(img)
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRejected(f"image too large (possible decompression bomb): {exc}") from None
    except UnidentifiedImageError:
        raise ImageRejected("not a readable image (unrecognised content)") from None
    # Pillow on corrupt input also raises struct.error (a cut GIF frame header) and KeyError
    # (an unknown tag in a TIFF frame directory): both mean a corrupt file, not a bug here.
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, MemoryError,
            struct.error) as exc:
        raise ImageRejected(f"truncated or corrupt image ({type(exc).__name__}: {exc})") from None
    original_size = img.size
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    pixels = np.asarray(img, dtype=np.uint8)
    digest = hashlib.blake2b(pixels.tobytes() + str(pixels.shape).encode(), digest_size=16).hexdigest()
    return DecodedImage(pixels=pixels, original_size=original_size, digest=digest)


def extension_problem(name: str) -> str | None:
    """Why a file name is not worth decoding, or None if it looks like an image."""
    base = name.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    ext = base[dot:].lower() if dot > 0 else ""
    if ext in IMAGE_EXTENSIONS:
        return None
    if ext in UNSUPPORTED_IMAGE_TYPES:
        return UNSUPPORTED_IMAGE_TYPES[ext]
    if ext == ".zip":
        return "nested archives are not supported; unpack it into the outer archive"
    return f"not an image file type ({ext or 'no extension'})"
