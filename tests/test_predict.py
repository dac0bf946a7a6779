"""Predictions from a run's checkpoint, and uploads kept for runs."""
import io
import zipfile

import hostile_files as h
import numpy as np
import pytest

from tlcore.data import IngestError, keep_upload, load_domain, zip_classes, zip_files
from tlcore.predict import NoCheckpoint, Predictor


def test_predictor_reproduces_the_run_s_own_test_predictions(recorded_runs):
    store, ids = recorded_runs
    folder = store.get(ids["gradual"]).folder
    predictor = Predictor(folder, which="last")  # the last epoch's weights: what the saved predictions used
    target = load_domain("syndigits", per_class=20)
    from tlcore.runs.read import target_test_predictions
    saved = target_test_predictions(store, ids["gradual"])
    index = {name: i for i, name in enumerate(target.ids)}
    images = [target.images[index[i]] for i in saved["ids"][:20]]
    top = predictor.predict(images, k=3)
    assert [t[0][0] for t in top] == [saved["class_names"][p] for p in saved["pred"][:20]]
    assert all(len(t) == 3 and t[0][1] >= t[1][1] >= t[2][1] and sum(p for _, p in t) <= 1.0001 for t in top)


def test_predict_files_gives_each_broken_file_its_reason(recorded_runs):
    store, ids = recorded_runs
    predictor = Predictor(store.get(ids["dann"]).folder)
    rows = predictor.predict_files([("seven.png", h.png_bytes()), ("empty.jpg", b""),
                                    ("text.jpg", b"not an image at all")])
    assert rows[0]["error"] is None and rows[0]["top"][0][0] in predictor.class_names
    assert rows[1]["top"] is None and "empty" in rows[1]["error"]
    assert rows[2]["top"] is None and rows[2]["error"]


def test_a_run_without_checkpoint_says_so(tmp_path):
    with pytest.raises(NoCheckpoint, match="no checkpoint yet"):
        Predictor(tmp_path)


def test_uploads_are_validated_then_kept_by_content(tmp_path):
    data = h.zip_of(h.good_members(("cat", "dog"), 3))
    path, image_set = keep_upload(data, "pets.zip", tmp_path)
    assert path.parent == tmp_path / "uploads" and path.read_bytes() == data and image_set.num_classes == 2
    assert keep_upload(data, "again.zip", tmp_path)[0] == path  # same bytes, same file
    with pytest.raises(IngestError, match="climbs out"):
        keep_upload(h.zip_slip(), "slip.zip", tmp_path)
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == [path.name]  # nothing kept for it


def test_folder_and_per_class_uploads_become_zips_with_their_classes(tmp_path):
    png = h.png_bytes()
    folder = zip_files([("pets/cat/a.png", png), ("pets/cat/b.png", png), ("pets/dog/c.png", png),
                        ("pets/dog/d.png", png)])
    assert zipfile.ZipFile(io.BytesIO(folder)).namelist()[0] == "pets/cat/a.png"
    per_class = zip_classes({"cat": [("../../a.png", png), ("a.png", png)], "d/o\\g": [("x.png", png)] * 2})
    names = zipfile.ZipFile(io.BytesIO(per_class)).namelist()
    assert names == ["cat/00000_a.png", "cat/00001_a.png", "d_o_g/00000_x.png", "d_o_g/00001_x.png"]
    _, image_set = keep_upload(per_class, "typed.zip", tmp_path)
    assert image_set.class_names == ("cat", "d_o_g") and len(image_set) >= 2
    assert np.all(image_set.labels >= 0)
