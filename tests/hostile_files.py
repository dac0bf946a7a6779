"""Generate broken, hostile and unusual image files and archives (never downloaded).

Used by the tests; also a script: ``python tests/hostile_files.py OUT_DIR`` writes the
corpus to a folder for trying by hand (e.g. ``python -m tlcore inspect OUT_DIR/zip_slip.zip``).
"""
from __future__ import annotations

import io
import stat
import struct
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def photo(seed: int = 0, size=(40, 30)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def png_bytes(seed: int = 0, size=(40, 30)) -> bytes:
    return encode(photo(seed, size))


def jpeg_bytes(seed: int = 0, size=(40, 30)) -> bytes:
    return encode(photo(seed, size), "JPEG", quality=90)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A few hundred bytes whose header claims width x height RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (20, 20), c) for c in ("red", "green", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def png_16bit() -> bytes:
    arr = (np.linspace(0, 65535, 30 * 40).reshape(30, 40)).astype(np.uint16)
    return encode(Image.fromarray(arr))  # Pillow stores uint16 as mode I;16


def cmyk_jpeg() -> bytes:
    return encode(Image.new("CMYK", (30, 30), (0, 255, 255, 0)), "JPEG")  # pure red


def palette_transparent_png() -> bytes:
    img = Image.new("P", (20, 20), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.paste(1, (5, 5, 15, 15))
    img.info["transparency"] = 0  # background index 0 is transparent
    return encode(img, transparency=0)


def rgba_png() -> bytes:
    return encode(Image.new("RGBA", (20, 20), (0, 0, 255, 0)))  # fully transparent blue


def grey_png() -> bytes:
    return encode(Image.new("L", (20, 20), 128))


def exif_rotated_jpeg() -> bytes:
    """Stored 40 wide x 20 high, with EXIF orientation 6 (rotate 90): shown 20 x 40."""
    img = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(img, "JPEG", exif=exif.tobytes())


class Payload:
    """Unpickling this would create a file: the proof that code ran (for weight-file tests)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def good_members(classes=("cat", "dog"), per_class: int = 3, prefix: str = "") -> dict[str, bytes]:
    return {f"{prefix}{c}/{i}.png": png_bytes(10 * k + i) for k, c in enumerate(classes) for i in range(per_class)}


def zip_slip() -> bytes:
    return zip_of({**good_members(), "../evil.png": png_bytes(99)})


def zip_absolute() -> bytes:
    return zip_of({**good_members(), "/tmp/evil.png": png_bytes(99)})


def zip_with_symlink() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in good_members().items():
            zf.writestr(name, data)
        link = zipfile.ZipInfo("cat/link.png")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    return buf.getvalue()


def zip_with_encrypted_member() -> bytes:
    """A member flagged encrypted, as in a password-protected zip (zipfile cannot write one,
    so the flag bit is set by hand in the local and the central header)."""
    data = bytearray(zip_of({**good_members(), "dog/secret.png": png_bytes(77)}))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("dog/secret.png")
    data[info.header_offset + 6] |= 0x1
    name = info.filename.encode()
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) != -1:
        if data[pos + 46: pos + 46 + len(name)] == name:
            data[pos + 8] |= 0x1
        pos += 4
    return bytes(data)


def zip_bomb(inflated_mib: int = 1024) -> bytes:
    """One member that inflates to ``inflated_mib`` MiB of zeros (about 1 MiB on disk per GiB)."""
    buf = io.BytesIO()
    chunk = b"\x00" * (1 << 20)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in good_members().items():
            zf.writestr(name, data)
        with zf.open("cat/bomb.png", "w", force_zip64=True) as fh:
            for _ in range(inflated_mib):
                fh.write(chunk)
    return buf.getvalue()


def zip_nested() -> bytes:
    return zip_of({**good_members(), "dog/inner.zip": zip_of(good_members())})


def zip_corrupt_directory() -> bytes:
    data = zip_of(good_members())
    return data[:-30]  # cut into the end-of-central-directory record


def zip_many_members(n: int = 10_000) -> bytes:
    tiny = encode(Image.new("RGB", (2, 2), "white"))
    return zip_of({f"{('a', 'b')[i % 2]}/{i}.png": tiny for i in range(n)})


SINGLE_FILES = {
    "zero_byte.jpg": lambda: b"",
    "text_as_image.png": lambda: b"this is not an image\n",
    "truncated.jpg": lambda: jpeg_bytes(1, (200, 200))[:600],
    "truncated.png": lambda: png_bytes(1, (200, 200))[:600],
    "header_bomb_20000.png": lambda: png_header_bomb(20000, 20000),
    "header_bomb_50000.png": lambda: png_header_bomb(50000, 50000),
    "animated.gif": animated_gif,
    "deep_16bit.png": png_16bit,
    "cmyk.jpg": cmyk_jpeg,
    "palette_transparent.png": palette_transparent_png,
    "exif_rotated.jpg": exif_rotated_jpeg,
    "drawing.svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9"/></svg>',
    "photo.heic": lambda: b"\x00\x00\x00\x18ftypheic" + bytes(64),
}

ARCHIVES = {
    "zip_slip.zip": zip_slip,
    "zip_absolute.zip": zip_absolute,
    "zip_symlink.zip": zip_with_symlink,
    "zip_encrypted.zip": zip_with_encrypted_member,
    "zip_bomb.zip": zip_bomb,
    "zip_nested.zip": zip_nested,
    "zip_corrupt.zip": zip_corrupt_directory,
}


def write_corpus(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, make in {**SINGLE_FILES, **ARCHIVES}.items():
        (out / name).write_bytes(make())


if __name__ == "__main__":
    write_corpus(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus"))
