"""Adaptation data that cannot work is refused before a run starts, with the fix in the
message: classes the target has and the source lacks, a source of one shared class, a
target without unlabelled images. Nothing is deleted: --shared-classes only narrows a run."""
import numpy as np
import pytest
from PIL import Image

from tlcore.config import DataConfig, RunConfig, StrategyConfig
from tlcore.data.errors import IngestError
from tlcore.data.run_data import prepare_data


def folder(root, classes, n=12):
    rng = np.random.default_rng(0)
    for cls in classes:
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (28, 28, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    return str(root)


def config(target, source, labels=0, **data):
    return RunConfig(data=DataConfig(target=target, source=source, per_class=20, target_labels_per_class=labels,
                                     **data), strategy=StrategyConfig("dann"))


def test_target_classes_the_source_lacks_are_named_and_the_intersection_offered(tmp_path):
    target = folder(tmp_path / "t", ["3", "5", "cat"])
    with pytest.raises(IngestError, match=r"'cat' are not in the source.*\(3, 5; .*--shared-classes"):
        prepare_data(config(target, "mnist"), False)
    data = prepare_data(config(target, "mnist", shared_classes_only=True), False)
    assert data.class_names == ("3", "5")
    assert set(data.target.labels) == {0, 1} and len(data.target.labels) == 24
    assert sorted(set(data.source_labels)) == [0, 1]  # the source narrowed to the same two
    assert len(prepare_data(config(target, "mnist", labels=2), False).class_names) == 3  # labels: allowed


def test_a_source_with_one_shared_class_is_refused(tmp_path):
    source = folder(tmp_path / "s", ["3", "dog"])
    with pytest.raises(IngestError, match=r"source set has images of 1 class\(es\) the target shares \(3\)"):
        prepare_data(config("mnist", source, labels=2), False)


def test_a_target_with_no_unlabelled_image_left_is_said(tmp_path):
    target = folder(tmp_path / "t", ["3", "5"], n=6)  # 4 training images a class after the split
    data = prepare_data(config(target, "mnist", labels=10), False)
    assert any("no unlabelled target image is left" in w for w in data.warnings)
    assert not any("unlabelled" in w for w in prepare_data(config(target, "mnist", labels=2), False).warnings)
