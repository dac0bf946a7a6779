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


def _zeros_deflate(mib: int) -> bytes:
    """A raw deflate stream of ``mib`` MiB of zeros, without deflating them all: one MiB is
    deflated once with a full flush (a byte-aligned block that refers to nothing before
    it), repeated, and closed with an empty final block. About 1 KB per MiB."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return block * mib + b"\x03\x00"


def _zeros_crc(n_bytes: int) -> int:
    crc, chunk = 0, bytes(min(n_bytes, 1 << 20))
    for start in range(0, n_bytes, len(chunk)):
        crc = zlib.crc32(chunk[:n_bytes - start], crc)
    return crc


def _zip_with_raw_deflate(name: str, stream: bytes, declared_size: int, crc: int) -> bytes:
    """good_members() plus member ``name`` holding a ready-made deflate ``stream``: written
    stored (zipfile would inflate nothing), then its method, CRC and size patched to say
    deflate in both the local and the central header."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for member, data in good_members().items():
            zf.writestr(member, data)
        zf.writestr(name, stream)
    assert declared_size < 1 << 32, "no zip64 here: keep it under 4 GiB"
    data = bytearray(buf.getvalue())
    listing = zipfile.ZipFile(io.BytesIO(bytes(data)))
    local, central = listing.getinfo(name).header_offset, listing.start_dir
    while data[central + 46: central + 46 + len(name)] != name.encode():  # its central entry
        central = data.index(b"PK\x01\x02", central + 4)
    for header, at in ((local, 4), (central, 6)):  # version needed 2.0, method deflate
        struct.pack_into("<HHH", data, header + at, 20, 0, zipfile.ZIP_DEFLATED)
        struct.pack_into("<III", data, header + at + 10, crc, len(stream), declared_size)
    return bytes(data)


def zip_bomb(inflated_mib: int = 1024) -> bytes:
    """One member that really inflates to ``inflated_mib`` MiB of zeros (about 1 MiB on disk
    per GiB), built in a fraction of a second without ever holding the zeros."""
    return _zip_with_raw_deflate("cat/bomb.png", _zeros_deflate(inflated_mib),
                                 inflated_mib << 20, _zeros_crc(inflated_mib << 20))


def zip_bomb_lying_size(inflated_mib: int = 1024, declared: int = 1000) -> bytes:
    """A member whose headers say ``declared`` bytes (CRC of that many zeros, so the lie is
    consistent) while its data inflates to ``inflated_mib`` MiB: no listing check sees it."""
    return _zip_with_raw_deflate("cat/liar.png", _zeros_deflate(inflated_mib), declared, _zeros_crc(declared))


def zip_nested() -> bytes:
    return zip_of({**good_members(), "dog/inner.zip": zip_of(good_members())})


def zip_corrupt_directory() -> bytes:
    data = zip_of(good_members())
    return data[:-30]  # cut into the end-of-central-directory record


def zip_bad_central_directory() -> bytes:
    """The end record is intact but the central directory it points at is garbage."""
    data = bytearray(zip_of(good_members()))
    start = zipfile.ZipFile(io.BytesIO(bytes(data))).start_dir
    data[start:start + 4] = b"XXXX"  # the first central entry's signature
    return bytes(data)


def zip_bad_local_header() -> bytes:
    """A sound listing, but one member's local header (where its data starts) is garbage."""
    data = bytearray(zip_of({**good_members(), "dog/mangled.png": png_bytes(55)}))
    offset = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("dog/mangled.png").header_offset
    data[offset:offset + 4] = b"XXXX"
    return bytes(data)


def zip_many_members(n: int = 10_000) -> bytes:
    tiny = encode(Image.new("RGB", (2, 2), "white"))
    return zip_of({f"{('a', 'b')[i % 2]}/{i}.png": tiny for i in range(n)})


def zip_one_image_per_class() -> bytes:
    return zip_of(good_members(("ant", "bee", "cow"), 1))


def zip_duplicates_across_classes() -> bytes:
    return zip_of({**good_members(), "cat/same.png": png_bytes(99), "dog/same.png": png_bytes(99)})


# Class folders naming one class in different ways, and two that are different classes.
LABEL_VARIANTS = {"dog": 0, "Dog": 1, " dog": 2, "DOG\t": 3, "caf\u00e9": 4, "cafe\u0301": 5,
                  "big cat": 6, "big  cat": 7}


def zip_labels_case_whitespace() -> bytes:
    return zip_of({**{f"{label}/{i}.png": png_bytes(100 * k + i)
                      for label, k in LABEL_VARIANTS.items() for i in range(2)},
                   "   /blank_label.png": png_bytes(150)})  # a folder named only by spaces


# Awkward but valid member names, each in a class folder: all are ordinary images.
# Linux file names are at most 255 bytes, so the 300-character name exists in zips and
# uploads; on disk the 300-character case is a path (hostile_folder_names).
HOSTILE_NAMES = {
    "unicode": "cat/\u732b caf\u00e9 \u2615 \u0410\u0411.png",
    "combining": "cat/cafe\u0301.png",  # NFD: looks like the NFC name, is a different string
    "rtl_override": "cat/evil\u202egnp.jpg",  # displays as "evilgpj.png"
    "spaces": "dog/  my photo (1) .png",
    "newline": "dog/line\nbreak.png",
    "long_300": "dog/" + "x" * 296 + ".png",
}


def hostile_names_members() -> dict[str, bytes]:
    return {**good_members(), **{name: png_bytes(200 + i) for i, name in enumerate(HOSTILE_NAMES.values())}}


def zip_hostile_names() -> bytes:
    return zip_of(hostile_names_members())


def hostile_folder_names() -> dict[str, bytes]:
    """HOSTILE_NAMES as files on disk: the long one becomes a 300-character path of
    folders inside its class (each part under the 255-byte limit)."""
    members = hostile_names_members()
    members.pop(HOSTILE_NAMES["long_300"])
    members["dog/" + "y" * 150 + "/" + "z" * 141 + ".png"] = png_bytes(299)
    return members


SINGLE_FILES = {
    "zero_byte.jpg": lambda: b"",
    "text_as_image.png": lambda: b"this is not an image\n",
    "text_renamed.jpg": lambda: b"plain text saved as .jpg\n",
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
    "zip_bad_central_directory.zip": zip_bad_central_directory,
    "zip_bad_local_header.zip": zip_bad_local_header,
    "zip_bomb_lying_size.zip": zip_bomb_lying_size,
    "zip_10000_tiny.zip": zip_many_members,
    "zip_one_image_per_class.zip": zip_one_image_per_class,
    "zip_duplicates_across_classes.zip": zip_duplicates_across_classes,
    "zip_labels_case_whitespace.zip": zip_labels_case_whitespace,
    "zip_hostile_names.zip": zip_hostile_names,
}

# Trees written to disk as folders (ingest_path on a directory).
FOLDERS = {
    "folder_single_class": lambda: good_members(("only",), 5),
    "folder_hostile_names": hostile_folder_names,
}


def write_tree(root: Path, members: dict[str, bytes]) -> Path:
    for rel, data in members.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def write_corpus(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, make in {**SINGLE_FILES, **ARCHIVES}.items():
        (out / name).write_bytes(make())
    for name, make in FOLDERS.items():
        write_tree(out / name, make())


if __name__ == "__main__":
    write_corpus(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus"))
