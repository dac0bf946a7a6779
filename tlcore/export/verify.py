"""Checks an export against the dashboard's own predictions on the run's target test set.

The reference is ``Predictor.predict`` (what the Predict page shows), fed the decoded test
images; the export gets the same images through ``square_inputs`` (its input contract). So
one check covers both the model and the preprocessing a deployment has to repeat.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..metrics import classification_metrics
from ..predict import square_inputs
from .images import TestImages, run_test_images
from .run_model import INPUT_NAME, RunModel, load_run_model

MAX_PROB_DIFF = 1e-4  # the bar an export must pass; float32 reorderings give about 1e-7
BATCH = 64


@dataclass
class Verification:
    runtime: str
    n: int  # test images compared
    top1_agreement: float  # share of images with the same top class as the torch model
    max_prob_diff: float  # largest |p_export - p_torch| over all images and classes
    batch_sizes: list[int]  # batch sizes the export was run with (dynamic batch)
    accuracy: float | None  # the export's own accuracy on the test set
    same_images_as_run: bool | None  # test ids equal the run's saved ones (None: not saved)
    confusion_matrix: list[list[int]] | None

    @property
    def passed(self) -> bool:
        return self.n > 0 and self.top1_agreement == 1.0 and self.max_prob_diff < MAX_PROB_DIFF

    def to_dict(self, with_matrix: bool = False) -> dict:
        d = asdict(self)
        if not with_matrix:
            d.pop("confusion_matrix")
        return {**d, "passed": self.passed, "tolerance": MAX_PROB_DIFF}

    def describe(self) -> str:
        return (f"{self.runtime} vs torch on {self.n} test images: top-1 agreement {self.top1_agreement:.1%}, "
                f"max probability difference {self.max_prob_diff:.1e} (must be < {MAX_PROB_DIFF:g})")


def reference_probabilities(run: RunModel, images: list[np.ndarray]) -> np.ndarray:
    """(N, C) probabilities from the dashboard's Predictor, every class asked for."""
    names = run.class_names
    column = {name: j for j, name in enumerate(names)}
    out = np.zeros((len(images), len(names)), dtype=np.float32)
    for start in range(0, len(images), BATCH):
        for row, top in enumerate(run.predictor.predict(images[start:start + BATCH], k=len(names)), start):
            for name, p in top:
                out[row, column[name]] = p
    return out


def compare(run: RunModel, test: TestImages, predict: Callable[[np.ndarray], np.ndarray],
            runtime: str) -> Verification:
    """``predict``: (N, S, S, 3) uint8 -> (N, C) probabilities, the export under test."""
    if test.reference is None:  # the torch side once, however many exports are checked
        test.reference = reference_probabilities(run, test.images)
    reference = test.reference
    batches = [square_inputs(test.images[s:s + BATCH], run.size) for s in range(0, len(test.images), BATCH)]
    n = len(reference)
    if not n:  # an empty test split proves nothing: the check does not pass (see ``passed``)
        return Verification(runtime, 0, 0.0, float("inf"), [], None, test.same_as_run, None)
    got = np.concatenate([predict(b) for b in batches])
    # One image alone as well: batch 1 is the case an export with a fixed batch would break.
    got_one = predict(batches[0][:1])[0]
    diff = max(float(np.abs(got - reference).max()), float(np.abs(got_one - reference[0]).max()))
    pred = got.argmax(1)
    metrics = classification_metrics(test.labels, pred, run.class_names)
    return Verification(runtime, n, float(np.mean(pred == reference.argmax(1))), diff,
                        sorted({1, *(len(b) for b in batches)}), metrics["accuracy"], test.same_as_run,
                        metrics["confusion_matrix"])


def verify_onnx(folder: str | Path, onnx_path: str | Path, run: RunModel | None = None,
                test: TestImages | None = None) -> Verification:
    import onnxruntime as ort
    run = run or load_run_model(folder)
    test = test or run_test_images(folder)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return compare(run, test, lambda x: session.run(None, {INPUT_NAME: x})[0], f"onnxruntime {ort.__version__}")


def verify_torchscript(folder: str | Path, path: str | Path, run: RunModel | None = None,
                       test: TestImages | None = None) -> Verification:
    import warnings

    import torch
    run = run or load_run_model(folder)
    test = test or run_test_images(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation: see torchscript_export
        module = torch.jit.load(str(path), map_location="cpu").eval()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(x)).numpy()
    return compare(run, test, predict, f"torchscript (torch {torch.__version__})")


def verify_safetensors(folder: str | Path, path: str | Path, run: RunModel | None = None,
                       test: TestImages | None = None) -> Verification:
    """Round trip: a fresh backbone loaded from the file, fed images normalised as the model
    card says (the normalisation is outside this format), against the run's own model."""
    import torch

    from .safetensors_export import load_safetensors_model
    run = run or load_run_model(folder)
    test = test or run_test_images(folder)
    model, card = load_safetensors_model(path)
    mean = np.asarray(card["preprocessing"]["mean"], dtype=np.float32)
    std = np.asarray(card["preprocessing"]["std"], dtype=np.float32)

    def predict(x: np.ndarray) -> np.ndarray:
        normalised = ((x.astype(np.float32) / 255.0 - mean) / std).transpose(0, 3, 1, 2)
        with torch.no_grad():
            return model(torch.from_numpy(np.ascontiguousarray(normalised))).softmax(1).numpy()
    return compare(run, test, predict, "safetensors in a fresh backbone")
