"""Decoding single files: every odd or hostile kind gets a defined outcome."""
import hostile_files as h
import numpy as np
import pytest

from tlcore.data.images import ImageRejected, decode_image, extension_problem


@pytest.mark.parametrize("name, reason", [
    ("zero_byte.jpg", "empty file"),
    ("text_as_image.png", "not a readable image"),
    ("truncated.jpg", "truncated or corrupt"),
    ("truncated.png", "truncated or corrupt"),
    ("header_bomb_20000.png", "too large"),
    ("header_bomb_50000.png", "too large"),
])
def test_broken_or_hostile_file_is_rejected_with_reason(name, reason):
    with pytest.raises(ImageRejected, match=reason):
        decode_image(h.SINGLE_FILES[name](), name)


def test_pixel_limit_is_checked_from_the_header_before_decoding():
    # 5000 x 5000 is under Pillow's own bomb limit, so only our explicit check stops it.
    data = h.png_header_bomb(5000, 5000)
    with pytest.raises(ImageRejected, match="over the limit of 1,000,000 pixels"):
        decode_image(data, "big.png", max_pixels=1_000_000)


def test_animated_gif_gives_its_first_frame():
    img = decode_image(h.animated_gif()).pixels
    assert img.shape == (20, 20, 3) and tuple(img[10, 10]) == (255, 0, 0)


def test_16bit_png_is_scaled_not_clipped():
    img = decode_image(h.png_16bit()).pixels
    assert img.dtype == np.uint8 and img.shape == (30, 40, 3)
    assert img.min() == 0 and img.max() == 255  # the full 16-bit ramp maps onto 0..255
    assert 100 < img[15, 20, 0] < 160  # the middle of the ramp is mid-grey


def test_cmyk_jpeg_becomes_rgb():
    r, g, b = decode_image(h.cmyk_jpeg()).pixels[15, 15].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_transparency_is_composited_on_white():
    assert tuple(decode_image(h.rgba_png()).pixels[0, 0]) == (255, 255, 255)
    pal = decode_image(h.palette_transparent_png()).pixels
    assert tuple(pal[0, 0]) == (255, 255, 255) and tuple(pal[10, 10]) == (255, 0, 0)


def test_greyscale_becomes_three_channels():
    img = decode_image(h.grey_png()).pixels
    assert img.shape == (20, 20, 3) and (img == 128).all()


def test_exif_orientation_is_applied():
    # Stored 40 wide x 20 high with "rotate 90": the user sees it 20 wide x 40 high.
    assert decode_image(h.exif_rotated_jpeg()).pixels.shape == (40, 20, 3)


def test_large_images_are_downscaled_but_original_size_reported():
    d = decode_image(h.png_bytes(0, (1000, 500)), max_side=256)
    assert d.pixels.shape == (128, 256, 3) and d.original_size == (1000, 500)


def test_digest_ignores_encoding_but_not_content():
    img = h.photo(3)
    png = decode_image(h.encode(img, "PNG")).digest
    bmp = decode_image(h.encode(img, "BMP")).digest
    assert png == bmp
    assert png != decode_image(h.png_bytes(4)).digest


@pytest.mark.parametrize("name, expected", [
    ("a/b.JPG", None), ("x.webp", None), ("x.tiff", None),
    ("d.svg", "SVG"), ("p.heic", "HEIC"), ("notes.txt", "not an image file type"),
    ("inner.zip", "nested archives"), ("README", "no extension"),
])
def test_extension_filter(name, expected):
    problem = extension_problem(name)
    assert (problem is None) if expected is None else (expected in problem)
