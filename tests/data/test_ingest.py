"""Folders, zips and uploads into an ImageSet + report; hostile archives; hard errors."""
import os

import hostile_files as h
import numpy as np
import pytest

from tlcore.data import (IngestError, check_domain_pair, ingest_domains, ingest_path, ingest_uploads, ingest_zip_bytes,
                         load_domain)


def write_tree(root, members: dict[str, bytes]):
    for rel, data in members.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def snapshot(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_class_folders_with_mixed_formats_and_junk(tmp_path):
    tree = write_tree(tmp_path / "set", {
        "cat/a.png": h.png_bytes(1), "cat/b.jpg": h.jpeg_bytes(2), "cat/c.gif": h.animated_gif(),
        "cat/d.png": h.rgba_png(), "dog/e.jpg": h.cmyk_jpeg(), "dog/f.png": h.grey_png(),
        "dog/g.png": h.png_16bit(), "dog/h.jpg": h.exif_rotated_jpeg(),
        "dog/broken.jpg": h.SINGLE_FILES["truncated.jpg"](), "dog/empty.png": b"",
        "dog/notes.txt": b"hello", "dog/.DS_Store": b"\0", "stray.png": h.png_bytes(5),
    })
    before = snapshot(tmp_path)
    s = ingest_path(tree)
    assert s.class_names == ("cat", "dog") and s.class_counts() == {"cat": 4, "dog": 4}
    assert all(im.ndim == 3 and im.shape[2] == 3 and im.dtype == np.uint8 for im in s.images)
    reasons = {sk.path: sk.reason for sk in s.report.skipped}
    assert "truncated" in reasons["dog/broken.jpg"] and "empty" in reasons["dog/empty.png"]
    assert "not an image file type" in reasons["dog/notes.txt"] and "hidden" in reasons["dog/.DS_Store"]
    assert "class folder" in reasons["stray.png"]
    assert s.report.usable and s.report.layout == "class folders"
    assert snapshot(tmp_path) == before  # ingestion writes nothing


def test_zip_with_top_folder_and_macos_junk():
    members = {**h.good_members(("ant", "bee", "cow"), 4, prefix="mydata/"),
               "__MACOSX/mydata/ant/._0.png": b"junk", "mydata/ant/._1.png": b"junk"}
    s = ingest_zip_bytes(h.zip_of(members), "upload.zip")
    assert s.class_names == ("ant", "bee", "cow") and len(s) == 12
    assert sum("macOS" in sk.reason for sk in s.report.skipped) == 2


def test_own_split_folders_are_kept_and_val_is_carved_from_train():
    members = {**h.good_members(("a", "b"), 6, prefix="train/"),
               **{f"test/{c}/{i}.png": h.png_bytes(500 + 10 * k + i) for k, c in enumerate("ab") for i in range(2)}}
    s = ingest_zip_bytes(h.zip_of(members))
    assert s.report.layout == "split/class folders"
    assert s.report.split_counts["test"] == {"a": 2, "b": 2}
    assert all(s.splits[i] == "test" for i, p in enumerate(s.ids) if p.startswith("test/"))
    assert s.report.split_counts["val"]["a"] >= 1 and s.report.split_counts["train"]["a"] >= 1


def test_multi_domain_root(tmp_path):
    tree = write_tree(tmp_path / "office", {
        **h.good_members(("cup", "pen"), 3, prefix="amazon/"),
        **{k: h.png_bytes(100 + i) for i, k in enumerate(h.good_members(("cup", "pen"), 3, prefix="webcam/"))},
    })
    domains = ingest_domains(tree)
    assert set(domains) == {"amazon", "webcam"} and len(domains["webcam"]) == 6
    with pytest.raises(IngestError, match="holds several domains.*amazon, webcam"):
        ingest_path(tree)
    assert ingest_path(tree, domain="amazon").class_names == ("cup", "pen")


def test_uploads_keep_only_base_names_and_typed_classes():
    items = [(f"../../etc/{i}.png", h.png_bytes(i), " Cat " if i % 2 else "dog") for i in range(6)]
    s = ingest_uploads(items)
    assert s.class_names == ("Cat", "dog") and len(s) == 6
    assert not any(".." in i for i in s.ids)


def test_split_is_stratified_deterministic_and_saved(tmp_path):
    s = ingest_zip_bytes(h.zip_of(h.good_members(("a", "b", "c"), 20)))
    again = ingest_zip_bytes(h.zip_of(h.good_members(("a", "b", "c"), 20)))
    assert (s.splits == again.splits).all()
    for split, counts in s.report.split_counts.items():
        assert len(set(counts.values())) == 1, f"{split} not stratified: {counts}"
    s.save_split(tmp_path / "split.json")
    reloaded = again.load_split(tmp_path / "split.json")
    assert (reloaded.splits == s.splits).all()


@pytest.mark.parametrize("members, message", [
    ({}, "not a valid zip|no usable images"),
    ({"a/x.txt": b"text", "b/y.txt": b"text"}, "no usable images"),
    (h.good_members(("only",), 5), "only one class"),
    ({**h.good_members(("a",), 3), "b/0.png": h.png_bytes(42)}, "fewer than 2 images: 'b'"),
])
def test_hard_errors_are_clear_and_keep_the_report(members, message):
    with pytest.raises(IngestError, match=message) as err:
        ingest_zip_bytes(h.zip_of(members))
    if err.value.report is not None:
        assert err.value.report.error and not err.value.report.usable


@pytest.mark.parametrize("make, message", [
    (h.zip_slip, "climbs out"),
    (h.zip_absolute, "absolute path"),
    (lambda: h.zip_bomb(256), "zip bomb"),
    (h.zip_corrupt_directory, "not a valid zip"),
])
def test_hostile_archives_are_refused(make, message, tmp_path):
    before = snapshot(tmp_path)
    cwd = os.getcwd()
    os.chdir(tmp_path)  # a zip-slip member would land here if anything were extracted
    try:
        with pytest.raises(IngestError, match=message):
            ingest_zip_bytes(make())
    finally:
        os.chdir(cwd)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("make, path, reason", [
    (h.zip_with_symlink, "cat/link.png", "symbolic link"),
    (h.zip_with_encrypted_member, "dog/secret.png", "encrypted"),
    (h.zip_nested, "dog/inner.zip", "nested archive"),
])
def test_dangerous_members_are_skipped_with_reason(make, path, reason):
    s = ingest_zip_bytes(make())
    assert len(s) == 6
    assert any(sk.path == path and reason in sk.reason for sk in s.report.skipped)


def test_member_count_limit():
    from tlcore.data import ArchiveLimits, IngestOptions
    with pytest.raises(IngestError, match="more than the limit"):
        ingest_zip_bytes(h.zip_many_members(300), options=IngestOptions(archive=ArchiveLimits(max_members=200)))


def test_folder_symlinks_are_not_followed(tmp_path):
    tree = write_tree(tmp_path / "set", h.good_members())
    (tmp_path / "secret.png").write_bytes(h.png_bytes(9))
    os.symlink(tmp_path / "secret.png", tree / "cat" / "link.png")
    s = ingest_path(tree)
    assert len(s) == 6 and any("symbolic link" in sk.reason for sk in s.report.skipped)


def test_warnings_duplicates_across_classes_and_splits_imbalance_case():
    same = h.png_bytes(7)
    members = {**h.good_members(("cat",), 40), **{f"dog/{i}.png": h.png_bytes(900 + i) for i in range(4)},
               "dog/copy.png": same, "cat/copy.png": same, "Dog /x.png": h.png_bytes(999)}
    s = ingest_zip_bytes(h.zip_of(members))
    text = " | ".join(s.report.warnings)
    assert "more than one class" in text and "class imbalance" in text
    assert "differ only by case" in text and s.class_names == ("Dog", "cat")


def test_duplicates_between_train_and_test_are_flagged():
    members = {f"{c}/{i}.png": h.png_bytes(1) if i < 10 else h.png_bytes(100 * k + i)
               for k, c in enumerate(("a", "b")) for i in range(20)}
    members = {k: v for k, v in members.items() if not (k.startswith("b/") and v == h.png_bytes(1))}
    s = ingest_zip_bytes(h.zip_of(members))
    assert any("training and in evaluation" in w for w in s.report.warnings)


def test_tiny_images_warn():
    s = load_domain("digits-uci")
    assert any("smaller than 16 px" in w for w in s.report.warnings)


def test_domain_pairs_must_share_labels():
    mnist, syn = load_domain("mnist", per_class=5), load_domain("syndigits", per_class=5)
    assert check_domain_pair(mnist, syn) == []
    animals = ingest_zip_bytes(h.zip_of(h.good_members(("cat", "dog"), 3)))
    with pytest.raises(IngestError, match="no class in common"):
        check_domain_pair(mnist, animals)
