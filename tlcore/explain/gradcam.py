"""Grad-CAM heat maps (the grad-cam package) for a trained run or any backbone.

``heatmaps(model, images, classes)`` answers "where in this image is the evidence for
that class?": (N, S, S) maps in [0, 1] at the model's input size S, one per image and
class. ``overlay(image, heat)`` paints a map over the image it belongs to.

The model is never changed: the explainer works on a private copy with every parameter's
``requires_grad`` off (the gradient starts at the target layer's output instead, so no
``.grad`` is left on any weight and backward costs no weight gradients), in eval mode,
with its hooks removed after each call. A lock serialises calls, because the hooks on one copy would otherwise
record two sessions' batches at once in the dashboard's server process.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image
from torch import nn

from .target_layer import TargetLayer, resolve_target_layer

MAX_BATCH = 16  # images per forward/backward: bounds the memory of the saved activations


@dataclass(frozen=True)
class CamResult:
    heat: np.ndarray  # (N, S, S) float32 in [0, 1]; all zeros where no pixel speaks for the class
    probs: np.ndarray  # (N, classes) softmax of the same forward pass
    layer: str  # the layer the maps were read from


class CamExplainer:
    """Grad-CAM for one model at one input size; build once, call for any images."""

    def __init__(self, model: nn.Module, size: int, mean, std):
        self.size = size
        self._model = copy.deepcopy(model).eval()
        for p in self._model.parameters():
            p.requires_grad_(False)
        self.layer: TargetLayer = resolve_target_layer(self._model, size)
        self._mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self._lock = threading.Lock()

    @classmethod
    def for_model(cls, model_or_predictor, size: int | None = None) -> CamExplainer:
        """From a ``tlcore.predict.Predictor`` (its checkpoint, size and normalisation) or a
        ``Backbone`` (its own input size and normalisation unless ``size`` is given)."""
        if hasattr(model_or_predictor, "preprocess") and hasattr(model_or_predictor, "model"):
            p = model_or_predictor
            mean, std = p.preprocess.mean.flatten().tolist(), p.preprocess.std.flatten().tolist()
            return cls(p.model, size or p.size, mean, std)
        info = getattr(model_or_predictor, "info", None)
        if info is None:
            raise TypeError("heat maps need a Predictor or a tlcore Backbone (with its BackboneInfo)")
        return cls(model_or_predictor, size or info.input_size, info.mean, info.std)

    def inputs(self, images: list[np.ndarray]) -> torch.Tensor:
        """The images as the model sees them: whole image squashed to S x S, normalised
        (the same as ``Predictor.predict`` and the training loop)."""
        from ..predict import square_inputs
        batch = square_inputs(images, self.size)
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)
        return (x - self._mean) / self._std

    @torch.no_grad()
    def logits(self, images: list[np.ndarray]) -> np.ndarray:
        """(N, classes) plain logits of the private copy (for choosing which classes to map)."""
        param = next(self._model.parameters())
        with self._lock:
            return self._model(self.inputs(images).to(device=param.device, dtype=param.dtype)).float().cpu().numpy()

    def explain(self, images: list[np.ndarray], classes: list[int]) -> CamResult:
        """One heat map per (image, class index) pair."""
        if len(images) != len(classes):
            raise ValueError(f"{len(images)} images but {len(classes)} target classes")
        if not images:
            return CamResult(np.zeros((0, self.size, self.size), np.float32), np.zeros((0, 0), np.float32),
                             self.layer.name)
        num_classes = self._num_classes()
        bad = [c for c in classes if not 0 <= int(c) < num_classes]
        if bad:
            raise ValueError(f"class index {bad[0]} is out of range: the model has {num_classes} classes")
        heats, probs = [], []
        with self._lock:
            for start in range(0, len(images), MAX_BATCH):
                h, p = self._cam(self.inputs(images[start:start + MAX_BATCH]), classes[start:start + MAX_BATCH])
                heats.append(h)
                probs.append(p)
        return CamResult(np.concatenate(heats), np.concatenate(probs), self.layer.name)

    def _cam(self, x: torch.Tensor, classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
        # Imported here: grad-cam pulls in OpenCV and ttach, which pages that never draw
        # a heat map should not pay for at import.
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        param = next(self._model.parameters())
        x = x.to(device=param.device, dtype=param.dtype)
        # The graph starts at the target layer: its output is re-made a leaf that needs a
        # gradient, so backward runs through the head only, never down to the input (and
        # the layers below keep nothing for backward). Registered before grad-cam's own
        # hooks, so they see (and hook their gradient onto) this leaf.
        start = self.layer.module.register_forward_hook(lambda m, i, out: out.detach().requires_grad_(True))
        cam = GradCAM(self._model, [self.layer.module], reshape_transform=self.layer.reshape)
        try:
            # Callers may sit in no_grad or inference mode (Streamlit pages, predict code).
            with torch.inference_mode(False), torch.enable_grad():
                heat = cam(x, [ClassifierOutputTarget(int(c)) for c in classes])
            probs = cam.outputs.detach().float().softmax(1).cpu().numpy()
        finally:
            start.remove()
            cam.activations_and_grads.release()  # hooks off; not `with`, whose exit swallows IndexError
        heat = np.nan_to_num(np.asarray(heat, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        # grad-cam divides by (1e-7 + max): with small gradients (a barely trained head)
        # that caps a map well below 1. The maps are relative, so scale each to its peak.
        peak = heat.reshape(len(heat), -1).max(axis=1)
        heat = np.where(peak[:, None, None] > 0, heat / np.maximum(peak, 1e-30)[:, None, None], 0.0)
        return np.clip(heat, 0.0, 1.0).astype(np.float32), probs

    def _num_classes(self) -> int:
        n = getattr(self._model, "num_classes", None)
        if n is None:
            with torch.no_grad():
                n = self._model(self.inputs([np.zeros((self.size, self.size, 3), np.uint8)])).shape[1]
        return int(n)


def heatmaps(model_or_predictor, images: list[np.ndarray], target_classes: list[int],
             size: int | None = None) -> np.ndarray:
    """(N, S, S) Grad-CAM maps in [0, 1], one per image for its target class index."""
    return CamExplainer.for_model(model_or_predictor, size).explain(images, target_classes).heat


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5, colormap: str = "jet") -> np.ndarray:
    """The image (H, W, 3 uint8) with ``heat`` (any size, [0, 1]) painted over it, as uint8 RGB.

    The map is stretched to the image's own size (the model saw the image squashed to a
    square, so the stretch puts each cell back where it came from)."""
    image = np.asarray(Image.fromarray(np.asarray(image)).convert("RGB"))
    h, w = image.shape[:2]
    heat = np.asarray(Image.fromarray(np.asarray(heat, np.float32)).resize(
        (w, h), Image.Resampling.BILINEAR))
    colour = colormaps[colormap](np.clip(heat, 0.0, 1.0))[..., :3] * 255.0
    blended = (1.0 - alpha) * image.astype(np.float32) + alpha * colour
    return np.clip(blended, 0, 255).astype(np.uint8)
