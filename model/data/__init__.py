"""Data: Fashion-MNIST (IDX files from Debian's package), scikit-learn's digits, a user's folder of
images, the emoji builder, and apart from them the checks every uploaded image goes through and
(intake.py) a class's uploaded pictures and zips made into a training set for the Train tab.

Nothing here downloads anything. `python -m model data emoji --out DIR` builds the emoji folder;
`python -m model data faces --out DIR` the faces with known factors.
"""
from __future__ import annotations

from .base import IMAGE_SUFFIXES, NAMED_SETS, TRAIN_SETS, DataError, Dataset
from .digits import load_digits, stroke_digits
from .faces import FACTORS, load_faces
from .fashion import FASHION_CLASSES, find_fashion_mnist, load_fashion_mnist, read_idx
from .folder import FolderSource, list_folder, load_folder
from .uploads import ALLOWED_FORMATS, MAX_PIXELS, ImageError, open_image, preprocess_image

__all__ = ["ALLOWED_FORMATS", "DATASETS", "FACTORS", "FASHION_CLASSES", "IMAGE_SUFFIXES", "MAX_PIXELS", "NAMED_SETS",
           "TRAIN_SETS", "DataError",
           "Dataset", "FolderSource", "ImageError", "find_fashion_mnist", "list_folder", "load_dataset",
           "load_digits", "load_faces", "load_fashion_mnist", "load_folder", "open_image", "preprocess_image",
           "read_idx", "stroke_digits"]
DATASETS = NAMED_SETS + ("folder",)         # what load_dataset takes


def load_dataset(name: str, split: str, data_dir=None, image_size: int = 28, channels: int = 1) -> Dataset:
    """A built-in data set's split, whole in memory (a folder: decoded and fitted to image_size)."""
    if name == "fashion-mnist":
        return load_fashion_mnist(split, data_dir)
    if name == "digits":
        return load_digits(split, image_size)
    if name == "faces":                # 64x64 RGB with known factors (generated into a cache if missing)
        return load_faces(split, data_dir)
    if name == "folder":
        if not data_dir:
            raise DataError("--dataset folder needs --data-dir pointing at a folder of images")
        return load_folder(data_dir, split, image_size, channels, background="white")
    raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
