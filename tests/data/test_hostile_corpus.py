"""Every item of the hostile corpus (tests/hostile_files.py) has one defined outcome at the
ingest level: loaded, skipped with a reason, or refused with an IngestError saying why.

The tables below *are* that definition. test_every_corpus_item_has_an_outcome keeps them
complete as the corpus grows, and items whose outcome tests/data/test_ingest.py already
asserts are referenced (Elsewhere), not asserted twice; the reference itself is checked.
Decoding details of single files (pixel values) live in tests/data/test_images.py; here
each file goes through the real entry points: a zip, a folder and browser uploads.
"""
import functools
import importlib.util
import os
import tracemalloc
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import hostile_files as h
import numpy as np
import pytest

from tlcore.data import IngestError, ingest_path, ingest_uploads, ingest_zip_bytes
from tlcore.data.images import decode_image


@dataclass(frozen=True)
class Loaded:
    images: int | None = None  # archives: how many images the set has
    skipped: tuple[tuple[str, str], ...] = ()  # archives: (path, reason substring)
    warning: str | None = None  # archives: a substring one report warning must contain


@dataclass(frozen=True)
class Skipped:
    reason: str  # substring of the reason listed in the report


@dataclass(frozen=True)
class Refused:
    message: str  # regex the IngestError's message must match


@dataclass(frozen=True)
class Elsewhere:
    test: str  # a test in tests/data/test_ingest.py whose parametrisation runs this item


SINGLE_FILES = {
    "zero_byte.jpg": Skipped("empty file (0 bytes)"),
    "text_as_image.png": Skipped("not a readable image"),
    "text_renamed.jpg": Skipped("not a readable image"),
    "truncated.jpg": Skipped("truncated or corrupt image"),
    "truncated.png": Skipped("truncated or corrupt image"),
    # Refused from the header before any pixel is decoded (Pillow's own check words it
    # differently above its 179 Mpx limit, so the shared part is asserted).
    "header_bomb_20000.png": Skipped("image too large (possible decompression bomb)"),
    "header_bomb_50000.png": Skipped("image too large (possible decompression bomb)"),
    # Loaded as decode_image decodes them; test_images.py asserts those pixels (first GIF
    # frame, 16-bit ramp scaled, CMYK red, transparency on white, EXIF rotation applied).
    "animated.gif": Loaded(),
    "deep_16bit.png": Loaded(),
    "cmyk.jpg": Loaded(),
    "palette_transparent.png": Loaded(),
    "exif_rotated.jpg": Loaded(),
    "drawing.svg": Skipped("SVG vector images are not supported"),
    "photo.heic": Skipped("HEIC images are not supported"),
}

ARCHIVES = {
    "zip_slip.zip": Elsewhere("test_hostile_archives_are_refused"),
    "zip_absolute.zip": Elsewhere("test_hostile_archives_are_refused"),
    "zip_corrupt.zip": Elsewhere("test_hostile_archives_are_refused"),
    "zip_symlink.zip": Elsewhere("test_dangerous_members_are_skipped_with_reason"),
    "zip_encrypted.zip": Elsewhere("test_dangerous_members_are_skipped_with_reason"),
    "zip_nested.zip": Elsewhere("test_dangerous_members_are_skipped_with_reason"),
    # test_ingest refuses a 256 MiB bomb; this is the full 1 GiB one, refused from the listing.
    "zip_bomb.zip": Refused(r"member 'cat/bomb.png' would inflate [\d,]+x to 1,024 MiB \(a zip bomb\?\)"),
    "zip_bad_central_directory.zip": Refused(r"not a valid zip archive \(Bad magic number for central directory\)"),
    "zip_bad_local_header.zip": Loaded(images=6, skipped=(("dog/mangled.png", "could not be read (BadZipFile"),)),
    # Declares 1000 bytes with a matching CRC; only those are inflated (see the test below).
    "zip_bomb_lying_size.zip": Loaded(images=6, skipped=(("cat/liar.png", "not a readable image"),)),
    "zip_10000_tiny.zip": Loaded(images=10_000, warning="10000 images are smaller than 16 px"),
    "zip_one_image_per_class.zip": Refused(r"classes with fewer than 2 images: 'ant', 'bee', 'cow'"),
    "zip_duplicates_across_classes.zip": Loaded(
        images=8, warning="1 images appear in more than one class (identical pixels), "
                          "e.g. 'cat/same.png' and 'dog/same.png'"),
    "zip_labels_case_whitespace.zip": Loaded(images=16, skipped=(("   /blank_label.png", "not inside a class folder"),),
                                             warning="differ only by case or surrounding spaces were merged"),
    "zip_hostile_names.zip": Loaded(images=6 + len(h.HOSTILE_NAMES)),
}

FOLDERS = {
    "folder_single_class": Refused(r"only one class \('only'\) found; at least 2 classes"),
    "folder_hostile_names": Loaded(images=6 + len(h.HOSTILE_NAMES)),
}


def test_every_corpus_item_has_an_outcome():
    assert set(SINGLE_FILES) == set(h.SINGLE_FILES)
    assert set(ARCHIVES) == set(h.ARCHIVES)
    assert set(FOLDERS) == set(h.FOLDERS)


@functools.cache
def _test_ingest_module():
    path = Path(__file__).with_name("test_ingest.py")
    spec = importlib.util.spec_from_file_location("_referenced_test_ingest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", [n for n, o in ARCHIVES.items() if isinstance(o, Elsewhere)])
def test_outcomes_asserted_in_test_ingest_still_are(name):
    # The reference must stay true: the named test still runs this very generator.
    test = getattr(_test_ingest_module(), ARCHIVES[name].test)
    params = [p for mark in test.pytestmark if mark.name == "parametrize" for p in mark.args[1]]
    assert any(p[0] is h.ARCHIVES[name] for p in params), f"{ARCHIVES[name].test} no longer runs {name}"


# ------------------------------------------------------------------ single files, three ways in

def _ingest_single(source: str, name: str, data: bytes, tmp_path):
    """good_members() plus cat/<name>, through a zip, a folder on disk or browser uploads."""
    members = {**h.good_members(), f"cat/{name}": data}
    if source == "zip":
        return ingest_zip_bytes(h.zip_of(members))
    if source == "folder":
        return ingest_path(h.write_tree(tmp_path / "set", members))
    return ingest_uploads([(path.split("/", 1)[1], blob, path.split("/", 1)[0]) for path, blob in members.items()])


@pytest.mark.parametrize("source", ["zip", "folder", "uploads"])
@pytest.mark.parametrize("name", sorted(SINGLE_FILES))
def test_single_file_outcome(name, source, tmp_path):
    outcome, data = SINGLE_FILES[name], h.SINGLE_FILES[name]()
    s = _ingest_single(source, name, data, tmp_path)
    # Uploads get an index prefix ("cat/00006_name"); the name itself is kept.
    mine = lambda path: path.startswith("cat/") and path.endswith(name)  # noqa: E731
    loaded = [i for i, path in enumerate(s.ids) if mine(path)]
    skipped = [sk.reason for sk in s.report.skipped if mine(sk.path)]
    assert s.report.usable
    if isinstance(outcome, Loaded):
        assert len(loaded) == 1 and not skipped and len(s) == 7, (loaded, skipped)
        assert np.array_equal(s.images[loaded[0]], decode_image(data, name).pixels)
    else:
        assert not loaded and len(s) == 6 and len(skipped) == 1, (loaded, skipped)
        assert outcome.reason in skipped[0]


# ------------------------------------------------------------------ archives and folders

def _check(outcome, ingest, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a member extracted by mistake would land here
    before = sorted(tmp_path.rglob("*"))
    if isinstance(outcome, Refused):
        with pytest.raises(IngestError, match=outcome.message) as err:
            ingest()
        if err.value.report is not None:  # refused after decoding: the report says why, too
            assert err.value.report.error == str(err.value) and not err.value.report.usable
    else:
        s = ingest()
        assert s.report.usable and len(s) == outcome.images == s.report.num_images
        reasons = {sk.path: sk.reason for sk in s.report.skipped}
        assert len(reasons) == len(outcome.skipped), reasons
        for path, reason in outcome.skipped:
            assert reason in reasons[path], reasons
        if outcome.warning:
            assert any(outcome.warning in w for w in s.report.warnings), s.report.warnings
        assert all(im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3 for im in s.images)
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("name", [n for n, o in ARCHIVES.items() if not isinstance(o, Elsewhere)])
def test_archive_outcome(name, tmp_path, monkeypatch):
    data = h.ARCHIVES[name]()
    _check(ARCHIVES[name], lambda: ingest_zip_bytes(data, name), tmp_path, monkeypatch)


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_folder_outcome(name, tmp_path_factory, tmp_path, monkeypatch):
    root = h.write_tree(tmp_path_factory.mktemp("tree") / name, h.FOLDERS[name]())
    _check(FOLDERS[name], lambda: ingest_path(root), tmp_path, monkeypatch)


@pytest.mark.timeout(60)  # before the fix this hung: opening a pipe waits for a writer
def test_a_named_pipe_in_a_folder_is_skipped_not_opened(tmp_path):
    tree = h.write_tree(tmp_path / "set", h.good_members())
    os.mkfifo(tree / "cat" / "pipe.png")
    s = ingest_path(tree)
    assert len(s) == 6
    assert [(sk.path, sk.reason) for sk in s.report.skipped] == [
        ("cat/pipe.png", "could not be read (OSError: not a regular file (a pipe, socket or device))")]


def test_an_oversized_file_in_a_folder_is_skipped_unread(tmp_path):
    # Sparse: 65 MiB long, nothing on disk. A zip member this size is skipped from the
    # listing; a file on disk is now held to the same limit instead of being read whole.
    tree = h.write_tree(tmp_path / "set", h.good_members())
    with open(tree / "dog" / "huge.png", "wb") as fh:
        fh.truncate(65 << 20)
    s = ingest_path(tree)
    assert len(s) == 6
    assert [(sk.path, sk.reason) for sk in s.report.skipped] == [
        ("dog/huge.png", "could not be read (OSError: file too large (65 MiB, limit 64 MiB))")]


def test_a_zip_on_disk_is_refused_like_an_upload(tmp_path):
    # ingest_path reads the archive from the file, not from bytes: same listing checks.
    (tmp_path / "bomb.zip").write_bytes(h.zip_bomb())
    with pytest.raises(IngestError, match="zip bomb"):
        ingest_path(tmp_path / "bomb.zip")


def test_a_member_lying_about_its_size_is_not_inflated_past_it():
    # Its deflate data holds 1 GiB; the headers say 1000 bytes. Reading asked zipfile for up
    # to the 64 MiB member limit, and zipfile inflated that much before cutting at 1000
    # (130 MiB peak); now it asks for the declared size.
    data = h.zip_bomb_lying_size()
    tracemalloc.start()
    try:
        ingest_zip_bytes(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"peak {peak / 2**20:.0f} MiB"


# ------------------------------------------------------------------ names and labels

def test_awkward_file_names_load_under_their_own_names(tmp_path):
    expected = {n: h.png_bytes(200 + i) for i, n in enumerate(h.HOSTILE_NAMES.values())}
    from_zip = ingest_zip_bytes(h.zip_hostile_names())
    assert set(expected) <= set(from_zip.ids)  # byte for byte: no normalising, no truncating
    assert len(h.HOSTILE_NAMES["long_300"].rsplit("/", 1)[1]) == 300
    on_disk = h.hostile_folder_names()
    from_folder = ingest_path(h.write_tree(tmp_path / "set", on_disk))
    assert set(from_folder.ids) == set(on_disk)
    assert max(len(i) for i in from_folder.ids) >= 300
    uploads = ingest_uploads([(n.split("/", 1)[1], d, n.split("/", 1)[0]) for n, d in expected.items()]
                             + [(f"x{i}.png", h.png_bytes(i), c) for i, c in enumerate(("cat", "dog"))])
    for name in expected:  # the browser's base name is kept after the index prefix
        assert sum(i.endswith("_" + name.split("/", 1)[1]) for i in uploads.ids) == 1, name


def test_a_newline_in_a_skipped_name_cannot_forge_a_report_line():
    members = {**h.good_members(), "dog/x\nUsable: yes.txt": b"text"}
    text = ingest_zip_bytes(h.zip_of(members)).report.format_text()
    assert "'dog/x\\nUsable: yes.txt'" in text
    assert not any(line.startswith("Usable: yes.txt") for line in text.splitlines())


def test_labels_differing_by_case_or_surrounding_space_are_one_class():
    s = ingest_zip_bytes(h.zip_labels_case_whitespace())
    # dog, Dog, " dog", "DOG\t" merge under the first name in sort order; the NFC and NFD
    # spellings of café are the same name once normalised. Spaces *inside* a name are kept:
    # "big cat" and "big  cat" are two classes (a defined outcome, not an accident).
    assert s.class_counts() == {"DOG": 8, "big  cat": 2, "big cat": 2, "café": 4}
    assert all(unicodedata.is_normalized("NFC", c) for c in s.class_names)
    merged = next(w for w in s.report.warnings if "were merged" in w)
    assert "'Dog' -> 'DOG'" in merged and "'dog' -> 'DOG'" in merged
