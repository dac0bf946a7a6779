"""Files the dashboard reads while a run trains: the target test images as small
thumbnails (written once), the latest test predictions (every epoch) and a strategy's
artifacts (instance weights). Plain JSON and .npy, never pickles."""
from __future__ import annotations

from pathlib import Path


from ..data.thumbnails import thumbnails
from ..atomic import save_npy, write_json

THUMB_PX = 64
MAX_THUMBS = 2000  # 24 MB at 64 px; the gallery shows a few dozen, the rest are listed by name


def save_test_gallery(out_dir: Path, ctx) -> None:
    """Thumbnails of the target test images, in the order predictions are reported, plus
    the class names and image ids, so the UI never has to reload the data."""
    data = ctx.data
    thumbs = thumbnails(data.target, data.target_index("test")[:MAX_THUMBS], THUMB_PX)
    save_npy(out_dir / "target_test_thumbs.npy", thumbs)
    write_json(out_dir / "target_test.json",
               {"class_names": list(data.class_names), "ids": [data.target.ids[i] for i in data.target_index("test")]})


def save_test_predictions(out_dir: Path, epoch: int, details: dict) -> None:
    """The target test predictions of the latest evaluated epoch (true, predicted, confidence)."""
    write_json(out_dir / "target_test_predictions.json", {"epoch": epoch, **details["predictions"]})


def write_artifacts(out_dir: Path, strategy) -> None:
    for name, content in strategy.artifacts().items():
        write_json(out_dir / name, content)
