"""The data limits (tlcore.data.limits): upload size, images per set, pixels per image. Each
is set through its real environment variable, as an operator would, and each refusal must
name the figure and the setting that changes it."""
import os
from pathlib import Path

import hostile_files as h
import pytest
import tomllib

from tlcore.data import IngestError, IngestOptions, ingest_path, ingest_uploads, ingest_zip_bytes, keep_upload
from tlcore.data.limits import DEFAULT_MAX_UPLOAD_MB, MiB, max_images, max_upload_mb

ROOT = Path(__file__).resolve().parents[2]


def test_the_dashboard_upload_limit_is_the_one_ingest_enforces():
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["maxUploadSize"] == DEFAULT_MAX_UPLOAD_MB


def test_too_large_an_upload_is_refused_before_it_is_parsed(monkeypatch):
    monkeypatch.setenv("TLSTUDIO_MAX_UPLOAD_MB", "1")
    noise = os.urandom(MiB + MiB // 2)  # random bytes do not compress: the zip stays over 1 MiB
    big = h.zip_of({**h.good_members(), "cat/noise.png": noise})
    with pytest.raises(IngestError, match=r"is 1\.5 MB, more than the limit of 1 MB \(set TLSTUDIO_MAX_UPLOAD_MB"):
        ingest_zip_bytes(big, "big.zip")
    # Not even a zip: refused for its size, so nothing of it was read.
    with pytest.raises(IngestError, match="more than the limit of 1 MB"):
        ingest_zip_bytes(noise, "noise.zip")
    # Images per class add up: each file is small, the upload is not.
    items = [(f"{i}.png", noise[: MiB // 4], c) for c in ("cat", "dog") for i in range(3)]
    with pytest.raises(IngestError, match="more than the limit of 1 MB"):
        ingest_uploads(items)
    assert len(ingest_zip_bytes(h.zip_of(h.good_members()))) == 6  # a small one still passes


def test_streamlits_own_variable_raises_both_limits(monkeypatch):
    monkeypatch.delenv("TLSTUDIO_MAX_UPLOAD_MB", raising=False)
    monkeypatch.setenv("STREAMLIT_SERVER_MAX_UPLOAD_SIZE", "500")
    assert max_upload_mb() == 500
    monkeypatch.setenv("TLSTUDIO_MAX_UPLOAD_MB", "7")  # ours, when set, wins
    assert max_upload_mb() == 7


def test_a_refused_upload_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_MAX_UPLOAD_MB", "1")
    with pytest.raises(IngestError, match="more than the limit of 1 MB"):
        keep_upload(h.zip_of({**h.good_members(), "dog/noise.png": os.urandom(2 * MiB)}), "big.zip", tmp_path)
    assert not (tmp_path / "uploads").exists()


def test_too_many_images_are_refused_with_the_figure(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_MAX_IMAGES", "5")
    zipped = h.zip_of(h.good_members(per_class=3))  # 6 images
    with pytest.raises(IngestError, match=r"has 6 image files, more than the limit of 5 images per set "
                                          r"\(TLSTUDIO_MAX_IMAGES changes it\)") as refused:
        ingest_zip_bytes(zipped, "six.zip")
    assert refused.value.report is not None and refused.value.report.error == str(refused.value)
    # A folder on disk (the CLI's and the worker's path) is bounded the same way.
    for name, data in h.good_members(per_class=3).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    with pytest.raises(IngestError, match="more than the limit of 5 images per set"):
        ingest_path(tmp_path)
    monkeypatch.setenv("TLSTUDIO_MAX_IMAGES", "6")  # the limit itself is allowed
    assert len(ingest_zip_bytes(zipped)) == 6
    assert len(ingest_zip_bytes(zipped, options=IngestOptions(max_images=6))) == 6


def test_images_are_counted_from_their_names_before_any_is_decoded(monkeypatch):
    monkeypatch.setenv("TLSTUDIO_MAX_IMAGES", "10")
    garbage = h.zip_of({f"{c}/{i}.png": b"not a png" for c in ("a", "b") for i in range(6)})
    # Decoding would skip all 12 ("no usable images"); the count refuses first.
    with pytest.raises(IngestError, match="has 12 image files, more than the limit of 10"):
        ingest_zip_bytes(garbage)
    # Files that are not images by name (a README, junk) do not count against the limit.
    padded = h.zip_of({**h.good_members(per_class=3), **{f"cat/note{i}.txt": b"x" for i in range(20)}})
    assert len(ingest_zip_bytes(padded)) == 6


def test_pixel_limit_is_set_by_its_variable_and_named_in_the_reason(monkeypatch):
    monkeypatch.setenv("TLSTUDIO_MAX_PIXELS", "1000")  # the test images are 40 x 30 = 1,200 pixels
    members = {**h.good_members(), "cat/small.png": h.png_bytes(5, size=(20, 20))}
    with pytest.raises(IngestError) as refused:
        ingest_zip_bytes(h.zip_of(members))  # only the 20 x 20 image is under the limit: too few left
    reasons = {s.path: s.reason for s in refused.value.report.skipped}
    assert "over the limit of 1,000 pixels" in reasons["cat/0.png"] and "TLSTUDIO_MAX_PIXELS" in reasons["cat/0.png"]
    assert "cat/small.png" not in reasons


@pytest.mark.parametrize("value", ["lots", "-3", "0"])
def test_a_bad_setting_is_an_error_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("TLSTUDIO_MAX_IMAGES", value)
    with pytest.raises(ValueError, match="TLSTUDIO_MAX_IMAGES must be"):
        max_images()
