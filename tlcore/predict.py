"""Predictions from a trained run: its best (or last) checkpoint applied to new images,
optionally with flip test-time augmentation (TTA), and a finished run's test split scored
without and with it."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from .backbones import backbone_info, create_backbone
from .data.images import ImageRejected, decode_image
from .data.pipeline import BatchPreprocess
from .metrics import classification_metrics
from .run_folder import RunFolder
from .strategies import create_strategy

TTA_MODES = ("none", "flip")  # flip: each image and its mirror image (left-right), probabilities averaged
# Built-in domains where a mirrored image is not the same class (a mirrored 2, 3 or 7 is no
# digit): flip TTA has no reason to help there, and measured on syndigits it did not
# (BENCHMARKS.md, "Test-time augmentation").
MIRROR_SENSITIVE_DOMAINS = ("mnist", "mnist-m", "syndigits", "digits-uci")
EVAL_BATCH = 64


def tta_mode(tta: bool | str | None) -> str:
    """'none' or 'flip' from a bool (True: flip) or a mode's name; anything else is refused by name."""
    if tta is None or tta is False:
        return "none"
    if tta is True:
        return "flip"
    if isinstance(tta, str) and tta.strip().lower() in TTA_MODES:
        return tta.strip().lower()
    raise ValueError(f"unknown test-time augmentation {str(tta)[:40]!r}: use one of {', '.join(TTA_MODES)}")


@torch.no_grad()
def tta_probabilities(model: torch.nn.Module, x: torch.Tensor, tta: bool | str | None = "none") -> torch.Tensor:
    """(N, classes) softmax of a preprocessed (N, 3, H, W) batch; with flip TTA the mean of
    the softmax of each image and of its horizontal mirror. Probabilities are averaged, not
    logits, so one confident view cannot outvote the other by its scale alone."""
    prob = model(x).float().softmax(1)
    if tta_mode(tta) == "flip":
        prob = (prob + model(x.flip(3)).float().softmax(1)) / 2
    return prob


def square_inputs(images: list[np.ndarray], size: int) -> np.ndarray:
    """(N, size, size, 3) uint8: each image as RGB, squashed whole to a square (PIL bilinear).
    What every trained model here is given at inference (Predict, Grad-CAM, the exports'
    input contract) and what the training loop's ResizedImages does."""
    return np.stack([np.asarray(Image.fromarray(np.asarray(img)).convert("RGB").resize(
        (size, size), Image.Resampling.BILINEAR)) for img in images])


def run_test_split(run_folder: str | Path):
    """(ids, decoded images, labels) of a run's target test split, rebuilt from its config.json
    as the training loop built it (same loader, seed, splits and label edits). The source set
    plays no part in the target's split, so it is not loaded."""
    import dataclasses

    from .data.run_data import prepare_data  # the data stack: only when asked
    config = RunFolder(run_folder).config()
    data = prepare_data(config.replace(data=dataclasses.replace(config.data, source=None)))
    index = data.target_index("test")
    return [data.target.ids[i] for i in index], [data.target.images[i] for i in index], data.target.labels[index]


class NoCheckpoint(FileNotFoundError):
    """The run has not saved a checkpoint yet (it saves one after each epoch)."""


class Predictor:
    """Loads a run folder's checkpoint once; ``predict`` then takes decoded RGB images."""

    def __init__(self, run_folder: str | Path, which: str = "best"):
        files = RunFolder(run_folder)
        checkpoint = files.checkpoint(which)
        if checkpoint is None:
            raise NoCheckpoint(f"run folder {files.path} has no checkpoint yet: one is saved after each epoch")
        config = files.config()
        test_set = files.test_set()
        if test_set is None:
            raise NoCheckpoint(f"run folder {files.path} has not recorded its classes yet")
        self.class_names = test_set.class_names
        backbone = create_backbone(config.model.backbone, "none", num_classes=len(self.class_names))
        strategy = create_strategy(config.strategy.name, backbone, len(self.class_names), config.strategy.params)
        self.model = strategy.load_eval_state(load_file(str(checkpoint))).eval()  # safetensors: no pickle
        info = backbone_info(config.model.backbone)
        self.size = config.data.image_size or info.input_size
        self.preprocess = BatchPreprocess(info.mean, info.std)
        self.checkpoint = checkpoint

    def probabilities(self, images: list[np.ndarray], tta: bool | str | None = "none") -> torch.Tensor:
        """(N, classes) class probabilities of (H, W, 3) uint8 images, in batches of EVAL_BATCH."""
        mode = tta_mode(tta)  # refused before any work
        parts = [tta_probabilities(self.model, self.preprocess(torch.from_numpy(
            square_inputs(images[s:s + EVAL_BATCH], self.size)).permute(0, 3, 1, 2)), mode)
            for s in range(0, len(images), EVAL_BATCH)]
        return torch.cat(parts) if parts else torch.zeros(0, len(self.class_names))

    def predict(self, images: list[np.ndarray], k: int = 3, tta: bool | str | None = "none"
                ) -> list[list[tuple[str, float]]]:
        """Top-``k`` (class, probability) for each (H, W, 3) uint8 image; ``tta`` 'flip' (or
        True) averages each image's probabilities with its mirror image's."""
        tta = tta_mode(tta)  # refused even with no image to predict
        if not images:
            return []
        prob = self.probabilities(images, tta)
        top = prob.topk(min(k, prob.shape[1]), dim=1)
        return [[(self.class_names[int(i)], float(p)) for p, i in zip(ps, idx)]
                for ps, idx in zip(top.values, top.indices)]

    def predict_files(self, files: list[tuple[str, bytes]], k: int = 3, tta: bool | str | None = "none") -> list[dict]:
        """Uploaded files: each decoded safely; one that is not a usable image gets its reason.
        Rows: {file, top [(class, probability)], error, image (the decoded pixels)}."""
        tta = tta_mode(tta)  # before any file is decoded
        rows, images, where = [], [], []
        for name, data in files:
            try:
                images.append(decode_image(data, name).pixels)
                where.append(len(rows))
                rows.append({"file": name, "top": None, "error": None, "image": images[-1]})
            except ImageRejected as exc:  # not an image we can read: its reason, not a crash
                rows.append({"file": name, "top": None, "error": str(exc), "image": None})
        for i, top in zip(where, self.predict(images, k, tta)):
            rows[i]["top"] = top
        return rows


class TTAUnavailable(ValueError):
    """The run's test split cannot be scored again (its data changed or is gone)."""


def evaluate_with_tta(run_folder: str | os.PathLike, which: str = "last") -> dict:
    """A run's target test split (rebuilt from its config) scored by its checkpoint without
    and with flip TTA: {"none": metrics, "flip": metrics, "seconds": {mode: s}, "n",
    "checkpoint"}; metrics as tlcore.metrics.classification_metrics. ``which`` defaults to
    the last epoch's weights: those the run's own summary scored, so "none" reproduces its
    recorded accuracy and the difference is the augmentation's alone."""
    predictor = Predictor(run_folder, which)
    try:
        ids, images, labels = run_test_split(run_folder)
    except (OSError, LookupError, ValueError) as exc:  # an upload that is gone, data that changed
        raise TTAUnavailable(f"the run's test images cannot be loaded again ({exc})") from None
    recorded = RunFolder(run_folder).test_set()
    if recorded is not None and list(ids) != list(recorded.ids):
        raise TTAUnavailable(f"the data changed since the run: its test split now has {len(ids)} images, "
                             f"the run recorded {len(recorded.ids)} (or others)")
    out = {"n": len(labels), "checkpoint": predictor.checkpoint.stem, "seconds": {}}
    for mode in TTA_MODES:
        start = time.perf_counter()
        pred = predictor.probabilities(images, mode).argmax(1).numpy()
        out["seconds"][mode] = round(time.perf_counter() - start, 3)
        out[mode] = classification_metrics(labels, pred, predictor.class_names)
    return out
