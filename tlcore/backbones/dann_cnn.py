"""The small digits CNN of the DANN paper (Ganin et al., JMLR 2016, MNIST experiments).

Feature extractor: conv 32@5x5, max-pool 2, conv 48@5x5, max-pool 2 (768 features at
28 px). Label predictor: fc 100, fc 100, fc classes. Random init only: it exists so the
classic domain-adaptation results can be reproduced end to end.
"""
from __future__ import annotations

from torch import nn

from .base import stage_map_from_prefixes
from .registry import BackboneSpec, register_backbone

FEATURES = 48 * 4 * 4


def label_predictor(feature_dim: int, num_classes: int) -> nn.Module:
    return nn.Sequential(nn.Linear(feature_dim, 100), nn.ReLU(inplace=True),
                         nn.Linear(100, 100), nn.ReLU(inplace=True), nn.Linear(100, num_classes))


class DannDigitsCNN(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 32, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.conv2 = nn.Sequential(nn.Conv2d(32, 48, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        # Identity at 28 px; lets other input sizes keep the paper's 768 features.
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.flatten = nn.Flatten()
        self.classifier = label_predictor(FEATURES, num_classes)

    def forward(self, x):
        return self.classifier(self.flatten(self.pool(self.conv2(self.conv1(x)))))


register_backbone(BackboneSpec(
    name="dann_digits_cnn", family="from scratch",
    description="The DANN paper's small digits CNN (2 conv + 3 fc), random init, 28 px",
    build=DannDigitsCNN, head_path="classifier",
    stages=lambda body: (stage_map_from_prefixes(body, [("conv1", ("conv1",)), ("conv2", ("conv2",))]),
                         ["conv1", "conv2"]),
    input_size=28, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), licence="MIT (this project)",
    head_factory=label_predictor))
