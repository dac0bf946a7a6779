"""Fuzzing ingest with hypothesis: random bytes, mutated valid images, mutated valid zips.

The property: whatever the bytes, decode_image returns a sane image or raises
ImageRejected (the per-file reason), and the ingest entry points return a sane ImageSet
or raise IngestError. No other exception escapes, and one bad file never fails a set.
Bounded for CI (about 15 s on two busy cores); TLSTUDIO_FUZZ_SCALE=20 hunts longer, and
pytest's --hypothesis-seed=N replays a run. Inputs the fuzzer found are kept at the end
as fixed cases, so they are tested every time, not only when the dice repeat them.
"""
import io
import os
import struct
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import hostile_files as h
import numpy as np
import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from tlcore.data import IngestError, ingest_path, ingest_uploads, ingest_zip_bytes
from tlcore.data.images import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, ImageRejected, decode_image

# Pillow warns about the corrupt data it is fed here on purpose (bad EXIF, short reads).
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SCALE = float(os.environ.get("TLSTUDIO_FUZZ_SCALE", "1"))


def fuzz(examples: int):
    # No example database: CI leaves no .hypothesis folder behind, and each run explores anew.
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _frames(fmt: str, **kw) -> bytes:
    frames = [h.photo(i, (12, 10)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], **kw)
    return buf.getvalue()


_exif = Image.Exif()
_exif[0x0112] = 3  # an orientation tag, so mutations reach exif_transpose
_small = h.photo(5, (12, 10))
IMAGE_BASES = [
    h.png_bytes(1, (12, 10)), h.jpeg_bytes(2, (12, 10)), h.animated_gif(), h.png_16bit(), h.cmyk_jpeg(),
    h.palette_transparent_png(), h.exif_rotated_jpeg(), h.grey_png(), h.rgba_png(),
    h.encode(_small, "BMP"), h.encode(_small, "WEBP"), h.encode(_small, "TIFF", compression="tiff_lzw"),
    h.encode(_small, "JPEG", exif=_exif.tobytes(), progressive=True), h.encode(_small, "PNG", exif=_exif.tobytes()),
    _frames("TIFF"), _frames("WEBP"),
]
# Random bytes after a real signature get past format sniffing into the decoders.
MAGIC = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*",
         b"RIFF\0\0\0\0WEBPVP8 "]
EXTREMES = [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00"]


def _zip(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED, **kw) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name) if name.endswith("/") else name, data, **kw)
    return buf.getvalue()


# Tiny images, so that most mutations land in the zip structure rather than in pixels.
_members = {f"{c}/{i}.png": h.png_bytes(10 * k + i, (6, 5)) for k, c in enumerate(("cat", "dog")) for i in range(3)}
ZIP_BASES = [
    _zip(_members), _zip(_members, zipfile.ZIP_STORED), _zip(_members, zipfile.ZIP_LZMA),
    _zip(_members, zipfile.ZIP_BZIP2), _zip({"top/": b"", **{f"top/{k}": v for k, v in _members.items()}}),
    h.zip_with_encrypted_member(), h.zip_with_symlink(),
]


def _structure_offsets(data: bytes) -> list[int]:
    """Where a zip's headers are: each local header, the central directory, the end record."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    return [i.header_offset for i in zf.infolist()] + [zf.start_dir, data.rindex(b"PK\x05\x06")]


ZIP_HEADERS = [_structure_offsets(z) for z in ZIP_BASES]


@st.composite
def mutated(draw, bases, headers=None):
    """One of ``bases`` with 1-6 edits: a byte set, a cut, an insertion, an extreme 32-bit
    value; for zips half of the edits land within 64 bytes of a header."""
    k = draw(st.integers(0, len(bases) - 1))
    data = bytearray(bases[k])
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        if headers and draw(st.booleans()):
            pos = min(len(data) - 1, draw(st.sampled_from(headers[k])) + draw(st.integers(0, 63)))
        else:
            pos = draw(st.integers(0, len(data) - 1))
        # Cuts are rarer: one anywhere before a zip's end record leaves no archive at all.
        kind = draw(st.sampled_from(["set", "set", "set", "extreme", "extreme", "insert", "cut"]))
        if kind == "set":
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            data[pos:pos + 4] = draw(st.sampled_from(EXTREMES))
    return bytes(data)


def assert_sane_image(d, max_pixels=DEFAULT_MAX_PIXELS):
    px = d.pixels
    assert px.dtype == np.uint8 and px.ndim == 3 and px.shape[2] == 3
    assert 1 <= min(px.shape[:2]) and max(px.shape[:2]) <= DEFAULT_MAX_SIDE
    w, hgt = d.original_size
    assert w >= 1 and hgt >= 1 and w * hgt <= max_pixels and len(d.digest) == 32


def assert_sane_set(s):
    n = len(s)
    assert n == len(s.labels) == len(s.ids) == len(s.splits) == s.report.num_images and s.report.usable
    assert s.num_classes >= 2 and all(k >= 2 for k in s.class_counts().values())
    assert s.labels.min() >= 0 and s.labels.max() < s.num_classes
    assert set(s.splits.tolist()) <= {"train", "val", "test"}
    for im in s.images:
        assert im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3 and max(im.shape[:2]) <= DEFAULT_MAX_SIDE
    for i in s.ids:  # zip-slip proof: no id names a place outside the upload
        assert not i.startswith("/") and ".." not in PurePosixPath(i).parts, i
    s.report.format_text()  # the report renders, whatever the names


def note(outcome: str) -> None:
    # --hypothesis-show-statistics then says how often each outcome came up: a fuzzer that
    # only ever meets "not a valid zip" would be testing nothing.
    if currently_in_test_context():  # the fixed cases below run outside hypothesis
        event(outcome)


def decode_or_reject(data: bytes, name: str = "x.png"):
    try:
        assert_sane_image(decode_image(data, name))
        note("decoded")
    except ImageRejected as exc:
        assert str(exc)  # the reason shown to the user is never empty
        note(f"rejected: {str(exc).split(' (')[0][:40]}")


def ingest_or_refuse(make):
    try:
        s = make()
    except IngestError as exc:
        assert str(exc)
        note(f"refused: {str(exc)[:30]}")
        return None
    assert_sane_set(s)
    note(f"loaded {len(s)} images, skipped {len(s.report.skipped)}")
    return s


# ------------------------------------------------------------------ single files

@fuzz(1000)
@given(st.sampled_from(MAGIC), st.binary(max_size=2048))
def test_random_bytes_decode_or_are_rejected(magic, tail):
    decode_or_reject(magic + tail)


@fuzz(1500)
@given(mutated(IMAGE_BASES))
def test_mutated_images_decode_or_are_rejected(data):
    decode_or_reject(data)


@fuzz(200)
@given(mutated(IMAGE_BASES), st.sampled_from(["x.png", "x.jpg", "x.gif", "x.tif", "x.webp", "x.bmp"]))
def test_one_bad_file_is_skipped_never_fatal(data, name):
    good = [(f"{i}.png", h.png_bytes(i, (6, 5)), c) for i, c in enumerate(("cat", "dog") * 3)]
    s = ingest_uploads(good + [(name, data, "cat")])
    assert_sane_set(s)
    mine = "cat/00006_" + name
    skipped = [sk.reason for sk in s.report.skipped if sk.path == mine]
    assert (len(s), skipped) == (7, []) or (len(s) == 6 and len(skipped) == 1 and skipped[0])


# ------------------------------------------------------------------ archives

@fuzz(1000)
@given(mutated(ZIP_BASES, ZIP_HEADERS))
def test_mutated_zips_load_or_are_refused(data):
    ingest_or_refuse(lambda: ingest_zip_bytes(data))


@fuzz(300)
@given(st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06", b"PK\x01\x02"]), st.binary(max_size=1024))
def test_random_bytes_are_refused_as_a_zip(magic, tail):
    with pytest.raises(IngestError):  # at best an empty archive: no usable images
        ingest_zip_bytes(magic + tail)


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12)
_special = st.sampled_from(["..", ".", "", "C:", "\\..\\x", "~", " ", "__MACOSX", "train"])
_name_part = st.one_of(_text, _text, _text, _special)  # mostly odd text, now and then a trap


@fuzz(400)
@given(st.lists(st.lists(_name_part, min_size=1, max_size=3).map("/".join), min_size=1, max_size=6))
def test_member_names_never_reach_outside(names):
    # Whatever the folder names (climbing, absolute, drive letters, backslashes, unicode), a
    # set that loads holds only ids inside the upload; anything else is an IngestError.
    members = {f"{name}/{j}.png": h.png_bytes(10 * i + j, (6, 5)) for i, name in enumerate(names) for j in range(2)}
    members.update({k: v for k, v in _members.items() if k.startswith("cat/")})
    ingest_or_refuse(lambda: ingest_zip_bytes(_zip(members)))


@fuzz(100)
@given(mutated(ZIP_BASES, ZIP_HEADERS))
def test_mutated_zip_files_on_disk_load_or_are_refused(data):
    with tempfile.TemporaryDirectory() as tmp:  # ingest_path reads from the file itself
        path = Path(tmp) / "upload.zip"
        path.write_bytes(data)
        ingest_or_refuse(lambda: ingest_path(path))


# ------------------------------------------------------------------ what the fuzzer found

@pytest.mark.parametrize("base", range(len(IMAGE_BASES)))
def test_every_truncation_of_a_valid_image_is_handled(base):
    # Exhaustive and deterministic: a GIF cut inside its second frame's header raised
    # struct.error out of Pillow, past decode_image and ingest.
    data = IMAGE_BASES[base]
    for n in range(0, len(data), max(1, len(data) // 600)):
        decode_or_reject(data[:n])


def test_each_byte_of_a_multiframe_tiff_set_to_ff_is_handled():
    # A bad tag in a later TIFF frame directory raised KeyError out of Pillow's seek.
    data = _frames("TIFF")
    for pos in range(len(data)):
        decode_or_reject(data[:pos] + b"\xff" + data[pos + 1:], "x.tif")


def _patched(data: bytes, offset: int, fmt: str, *values) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


def test_a_zip_needing_a_newer_zip_version_is_refused():
    # "version needed to extract" 25.5 in a central entry: zipfile raised NotImplementedError.
    data = _zip(_members)
    start = zipfile.ZipFile(io.BytesIO(data)).start_dir
    with pytest.raises(IngestError, match="not a valid zip archive"):
        ingest_zip_bytes(_patched(data, start + 6, "<H", 255))


def test_member_offsets_before_the_archive_are_skipped_with_reason():
    # An end record that says the directory starts later than it does shifts every member
    # offset below zero: zipfile's seek raised ValueError when the member was read.
    data = _zip(_members)
    end = data.rindex(b"PK\x05\x06")
    (offset,) = struct.unpack_from("<I", data, end + 16)
    with pytest.raises(IngestError, match="no usable images|not a valid zip archive") as err:
        ingest_zip_bytes(_patched(data, end + 16, "<I", offset + 4096))
    if err.value.report is not None:  # (a stricter zipfile may refuse the listing itself)
        reasons = [sk.reason for sk in err.value.report.skipped]
        assert len(reasons) == len(_members) and all("could not be read (ValueError" in r for r in reasons), reasons


def test_a_corrupt_lzma_member_is_skipped_with_reason():
    # lzma.LZMAError is not an OSError: it escaped ingest.
    data = _zip({**_members, "dog/extra.png": h.png_bytes(7, (6, 5))}, zipfile.ZIP_LZMA)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("dog/extra.png")
    # Past the local header come zipfile's 4-byte LZMA header, then the 5 property bytes.
    props = info.header_offset + 30 + len(info.filename) + 4
    s = ingest_zip_bytes(_patched(data, props, "<IB", 0xFFFFFFFF, 0xFF))
    assert len(s) == len(_members)
    assert any(sk.path == "dog/extra.png" and "could not be read (LZMAError" in sk.reason for sk in s.report.skipped)


def test_a_member_without_a_name_is_skipped_with_reason():
    # A central entry whose name starts with NUL: zipfile cuts it to "", and its is_dir()
    # raised IndexError out of open_zip.
    data = _zip({**_members, "dog/extra.png": h.png_bytes(7, (6, 5))})
    start = zipfile.ZipFile(io.BytesIO(data)).start_dir
    s = ingest_zip_bytes(_patched(data, start + 46, "<B", 0))  # the first entry's name
    assert len(s) == len(_members)
    assert [(sk.path, sk.reason) for sk in s.report.skipped] == [
        ("(no name)", "archive member without a name (a broken archive)")]
