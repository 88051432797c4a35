"""A user's folder of images (class = first sub-folder), in memory or streamed from disk."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .base import IMAGE_SUFFIXES, DataError, Dataset
from .uploads import ImageError, preprocess_image


def list_folder(root: str | os.PathLike) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """Image files under root; the class is the first sub-folder (files at the top: class '.')."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    classes = sorted({p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else "."
                      for p in files})
    index = {c: i for i, c in enumerate(classes)}
    labels = [index[p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else "."]
              for p in files]
    return files, labels, tuple(classes)


def folder_split(files: list[Path], split: str) -> list[int]:
    """Every 10th file (in sorted order) is test data: stable as the folder grows at the end."""
    return [i for i in range(len(files)) if (i % 10 == 0) == (split == "test")]


def load_folder(root, split: str, image_size: int, channels: int, background: str = "black",
                invert: str = "never") -> Dataset:
    files, labels, classes = list_folder(root)
    keep = folder_split(files, split)
    images, kept_labels = [], []
    for i in keep:
        try:
            arr = preprocess_image(files[i], image_size, channels, background, invert)
        except ImageError as e:
            print(f"skipping {files[i]}: {e}")
            continue
        images.append(arr)
        kept_labels.append(labels[i])
    if not images:
        raise DataError(f"no usable images in the {split} split of {root}")
    return Dataset(np.stack(images), np.array(kept_labels, dtype=np.int64), classes)


class FolderSource:
    """A folder's split as a lazily decoded, map-style source (for torch's DataLoader with worker
    processes): folders larger than memory stream from disk. Item i -> (uint8 (C, H, W), label)."""

    def __init__(self, root, split: str, image_size: int, channels: int, background: str = "white") -> None:
        files, labels, self.class_names = list_folder(root)
        keep = folder_split(files, split)
        self.files = [files[i] for i in keep]
        self.labels = [labels[i] for i in keep]
        self.image_size, self.channels, self.background = image_size, channels, background

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        try:
            arr = preprocess_image(self.files[i], self.image_size, self.channels, self.background, "never")
        except ImageError as e:      # keep batches full and deterministic: an unreadable file is blank
            print(f"warning: {self.files[i]}: {e}; using a blank image")
            arr = np.full((self.channels, self.image_size, self.image_size),
                          0 if self.background == "black" else 255, dtype=np.uint8)
        return arr, self.labels[i]
