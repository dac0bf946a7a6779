"""Capture sets: camera shots kept class by class on disk, checked like uploads, and turned
into a kept upload that training reads. The shots are real digits of the built-in syndigits
domain, JPEG-encoded as a browser's canvas sends them."""
import io
import json
import zipfile

import hostile_files as h
import numpy as np
import pytest
from PIL import Image

from tlcore.data import CaptureError, CaptureSet, ingest_path, is_capture_id, load_domain, min_per_class


@pytest.fixture(scope="module")
def shots():
    """Six JPEG shots of each of two digit classes."""
    digits = load_domain("syndigits", per_class=6)
    by_class = {}
    for pixels, label in zip(digits.images, digits.labels):
        name = digits.class_names[label]
        if name in ("3", "7"):
            buffer = io.BytesIO()
            Image.fromarray(np.asarray(pixels)).resize((64, 64)).save(buffer, "JPEG", quality=90)
            by_class.setdefault(name, []).append(buffer.getvalue())
    return by_class


def test_a_set_is_found_again_by_its_id_with_its_shots_in_order(tmp_path, shots):
    capture = CaptureSet.create(tmp_path)
    assert is_capture_id(capture.id) and capture.folder.parent == tmp_path / "captures"
    assert capture.add_class("  three ") == "three"
    names = [capture.add_image("three", data) for data in shots["3"][:2]]
    again = CaptureSet.open(tmp_path, capture.id)  # a refreshed browser session: nothing but the id
    assert again.classes() == {"three": names}
    assert again.image_bytes(names[1]) == shots["3"][1]
    assert names[0].endswith(".jpg") and (capture.folder / "images" / names[0]).is_file()


def test_too_few_shots_say_how_many_more_then_the_set_trains_like_an_upload(tmp_path, shots):
    least = min_per_class()
    assert least == 3  # the default 70/15/15 split gives a class of 3 one train, one val, one test image
    capture = CaptureSet.create(tmp_path)
    with pytest.raises(CaptureError, match="at least 2 classes"):
        capture.keep(tmp_path)
    capture.add_class("three")
    capture.add_class("seven")
    for data in shots["3"][:least]:
        capture.add_image("three", data)
    capture.add_image("seven", shots["7"][0])
    assert capture.still_needed() == {"three": 0, "seven": least - 1}
    with pytest.raises(CaptureError, match="'seven' 2 more"):
        capture.keep(tmp_path)
    for data in shots["7"][1:least + 1]:
        capture.add_image("seven", data)
    path, image_set = capture.keep(tmp_path)
    assert path.parent == tmp_path / "uploads"
    assert image_set.class_names == ("seven", "three") and image_set.class_counts() == {"seven": 4, "three": 3}
    assert set(image_set.splits[image_set.labels == image_set.class_names.index("three")]) == {"train", "val", "test"}
    assert ingest_path(path).class_counts() == image_set.class_counts()  # what the worker will read


def test_the_download_is_a_zip_of_class_folders(tmp_path, shots):
    capture = CaptureSet.create(tmp_path)
    capture.add_class("a/b")  # a slash cannot make a folder inside the zip
    capture.add_image("a_b", shots["3"][0])
    names = zipfile.ZipFile(io.BytesIO(capture.to_zip())).namelist()
    assert len(names) == 1 and names[0].startswith("a_b/00000_") and names[0].endswith(".jpg")


def test_deleting_a_shot_or_a_class_removes_its_file(tmp_path, shots):
    capture = CaptureSet.create(tmp_path)
    capture.add_class("three")
    capture.add_class("seven")
    bad, good = (capture.add_image("three", d) for d in shots["3"][:2])
    capture.add_image("seven", shots["7"][0])
    capture.delete_image("three", bad)
    assert capture.classes()["three"] == [good] and not (capture.folder / "images" / bad).exists()
    capture.delete_class("seven")
    assert list(capture.classes()) == ["three"]
    assert sorted(p.name for p in (capture.folder / "images").iterdir()) == [good]


def test_bad_shots_and_names_are_refused_with_a_reason(tmp_path, shots, monkeypatch):
    capture = CaptureSet.create(tmp_path)
    capture.add_class("three")
    for data, reason in ((b"", "empty"), (b"<svg/>", "not a readable image"), (h.jpeg_bytes()[:200], "corrupt")):
        with pytest.raises(CaptureError, match=reason):
            capture.add_image("three", data)
    capture.add_image("three", shots["3"][0])
    with pytest.raises(CaptureError, match="identical to one already in 'three'"):
        capture.add_image("three", shots["3"][0])  # a frozen camera
    with pytest.raises(CaptureError, match="no class 'four'"):
        capture.add_image("four", shots["3"][1])
    for name, reason in (("   ", "type a name"), ("x" * 61, "at most 60"), ("a\x00b", "printable"),
                         ("THREE", "already a class")):
        with pytest.raises(CaptureError, match=reason):
            capture.add_class(name)
    monkeypatch.setenv("TLSTUDIO_MAX_IMAGES", "1")  # the upload limits apply to captures too
    with pytest.raises(CaptureError, match="limit per set"):
        capture.add_image("three", shots["3"][1])
    assert capture.counts() == {"three": 1}


def test_an_id_or_manifest_from_outside_is_never_used_as_a_path(tmp_path):
    for bad in ("../../etc", "ABCDEF0123456789", "0123", ""):
        with pytest.raises(CaptureError, match="not a capture-set id"):
            CaptureSet.open(tmp_path, bad)
    with pytest.raises(CaptureError, match="no capture set"):
        CaptureSet.open(tmp_path, "0123456789abcdef")
    capture = CaptureSet.create(tmp_path)
    (capture.folder / "manifest.json").write_text(json.dumps({"classes": {"x": ["../../secret.jpg", 3]}}))
    assert capture.classes() == {"x": []}  # names not of the store's own form are dropped
    with pytest.raises(CaptureError, match="not a captured image"):
        capture.image_bytes("../manifest.json")
    (capture.folder / "manifest.json").write_text("{not json")
    with pytest.raises(CaptureError, match="cannot be read"):
        CaptureSet.open(tmp_path, capture.id)
