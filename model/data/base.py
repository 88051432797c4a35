"""What every data set is: uint8 images with integer labels, and the error a missing one raises."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
# The built-in data sets by name, said once. NAMED_SETS: what load_dataset (the loop's --dataset) reads by its
# name alone; "folder" needs a folder besides. TRAIN_SETS: what the Train tab offers besides a class's own
# pictures: NAMED_SETS and the emoji set (a folder rendered once into a cache: intake.builtin_training_set).
NAMED_SETS = ("fashion-mnist", "digits", "faces")
TRAIN_SETS = NAMED_SETS + ("emoji",)


class DataError(RuntimeError):
    """A data set is missing or malformed; the message says what to do."""


@dataclass
class Dataset:
    """Images as uint8 (N, C, H, W) and integer labels; small enough to keep in memory.

    A data set drawn from known generative factors (faces) also carries them: factors, float32
    (N, F), one column per name in factor_names.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    factors: np.ndarray | None = None
    factor_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.labels)
