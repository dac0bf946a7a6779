"""A run's checkpoint as one self-contained module: uint8 RGB images in, probabilities out.

The run's model is built by ``tlcore.predict.Predictor`` (the Predict page's own loader), so
an export is the dashboard's model, strategy quirks included (AdaBN's target statistics).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..predict import Predictor

INPUT_NAME, OUTPUT_NAME = "image", "probabilities"


class ExportError(RuntimeError):
    """An export that could not be made or did not pass its check; the message says why."""


class ImageClassifier(nn.Module):
    """(N, S, S, 3) uint8 RGB, as Pillow gives an image resized to S x S, -> (N, C) softmax.

    Normalisation and softmax are inside the graph, so whoever runs an export only has to
    decode and resize; the arithmetic is ``BatchPreprocess``'s, op for op: x / 255, then
    (x - mean) / std in float32."""

    def __init__(self, model: nn.Module, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.model = model
        self.register_buffer("mean", mean.detach().clone().float().view(1, 3, 1, 1))
        self.register_buffer("std", std.detach().clone().float().view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = image.permute(0, 3, 1, 2).float().div(255.0)
        return self.model((x - self.mean) / self.std).float().softmax(1)


@dataclass
class RunModel:
    predictor: Predictor  # the dashboard's loader: the reference every export is checked against
    module: ImageClassifier
    folder: Path

    @property
    def size(self) -> int:
        return self.predictor.size

    @property
    def class_names(self) -> list[str]:
        return list(self.predictor.class_names)

    def example(self, batch: int = 2) -> torch.Tensor:
        """A batch of the input the exports take; > 1 so no exporter specialises the batch to 1."""
        return torch.zeros(batch, self.size, self.size, 3, dtype=torch.uint8)


def load_run_model(folder: str | Path, which: str = "best") -> RunModel:
    """The run's best checkpoint (its last when no best was kept), in eval mode on the CPU.
    Raises ``tlcore.predict.NoCheckpoint`` for a run that has not saved one yet."""
    predictor = Predictor(folder, which=which)
    model = predictor.model.cpu().eval()
    module = ImageClassifier(model, predictor.preprocess.mean, predictor.preprocess.std).eval()
    for p in module.parameters():  # inference only: exporters then trace no autograd
        p.requires_grad_(False)
    return RunModel(predictor, module, Path(folder))
