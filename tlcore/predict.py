"""Predictions from a trained run: its best (or last) checkpoint applied to new images."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from .backbones import backbone_info, create_backbone
from .data.images import ImageRejected, decode_image
from .data.pipeline import BatchPreprocess
from .run_folder import RunFolder
from .strategies import create_strategy


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

    @torch.no_grad()
    def predict(self, images: list[np.ndarray], k: int = 3) -> list[list[tuple[str, float]]]:
        """Top-``k`` (class, probability) for each (H, W, 3) uint8 image."""
        if not images:
            return []
        x = torch.from_numpy(square_inputs(images, self.size)).permute(0, 3, 1, 2)
        prob = self.model(self.preprocess(x)).float().softmax(1)
        top = prob.topk(min(k, prob.shape[1]), dim=1)
        return [[(self.class_names[int(i)], float(p)) for p, i in zip(ps, idx)]
                for ps, idx in zip(top.values, top.indices)]

    def predict_files(self, files: list[tuple[str, bytes]], k: int = 3) -> list[dict]:
        """Uploaded files: each decoded safely; one that is not a usable image gets its reason.
        Rows: {file, top [(class, probability)], error, image (the decoded pixels)}."""
        rows, images, where = [], [], []
        for name, data in files:
            try:
                images.append(decode_image(data, name).pixels)
                where.append(len(rows))
                rows.append({"file": name, "top": None, "error": None, "image": images[-1]})
            except ImageRejected as exc:  # not an image we can read: its reason, not a crash
                rows.append({"file": name, "top": None, "error": str(exc), "image": None})
        for i, top in zip(where, self.predict(images, k)):
            rows[i]["top"] = top
        return rows
