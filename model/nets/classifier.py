"""A small Fashion-MNIST classifier: the feature extractor behind the sample-quality measures
(model.analysis.quality: a Fréchet distance, precision and recall on its penultimate features).

Three conv blocks (conv 3x3, batch norm, ReLU, 2x2 max-pool: 28 -> 14 -> 7 -> 3), then a 128-D
fully connected layer (the features) and the logits: the 10 Fashion-MNIST classes and, as the shipped one is
trained (model.training.classifier), an 11th, "noise", so that noise gets features of its own, far from the
data's. Input: float (N, 1, 28, 28) in [0, 1].

Saved like every network here: classifier.json (the config) beside classifier.safetensors (float16
when shipped), written atomically, loaded strictly, nothing unpickled. The file names differ from a
model folder's (config.json, model.safetensors) on purpose: a classifier folder is never taken for a
model the app could offer.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import from_known_keys

CLASSIFIER_CONFIG_NAME = "classifier.json"
CLASSIFIER_WEIGHTS_NAME = "classifier.safetensors"


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything needed to rebuild a Classifier; typed fields become classifier.json."""

    image_size: int = 28
    channels: int = 1
    widths: tuple[int, ...] = (32, 64, 128)   # one conv block each, every block halves the size (floor)
    features: int = 128                       # the penultimate layer: what the quality measures compare
    classes: int = 10                         # the shipped classifier: 11 (the last one: noise)
    dropout: float = 0.3                      # before the logits, in training only
    mean: float = 0.2860                      # the training images' pixel mean and std ([0, 1] scale):
    std: float = 0.3530                       # inputs are standardised inside the network

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if self.image_size < 1 or self.channels < 1 or not self.widths or min(self.widths) < 1:
            raise ValueError(f"ClassifierConfig needs positive sizes: {self}")
        if self.features < 1 or self.classes < 2 or not 0 <= self.dropout < 1 or self.std <= 0:
            raise ValueError(f"ClassifierConfig needs features >= 1, classes >= 2, 0 <= dropout < 1, std > 0: {self}")
        if self.final_size < 1:
            raise ValueError(f"{len(self.widths)} pooling blocks shrink {self.image_size} px to nothing")

    @property
    def final_size(self) -> int:
        """The side of the last block's output: image_size halved (floor) once per block."""
        return self.image_size >> len(self.widths)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierConfig:
        return from_known_keys(cls, d, "classifier config")


class Classifier(nn.Module):
    """logits = forward(x); features(x) = the penultimate activations, (N, config.features)."""

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or ClassifierConfig()
        blocks, c_in = [], cfg.channels
        for w in cfg.widths:
            blocks += [nn.Conv2d(c_in, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = w
        self.conv = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in * cfg.final_size ** 2, cfg.features)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.features, cfg.classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> (N, features): ReLU of the fully connected layer."""
        x = (x - self.config.mean) / self.config.std
        return F.relu(self.fc(self.conv(x).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> logits (N, classes)."""
        return self.head(self.drop(self.features(x)))
