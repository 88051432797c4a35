"""Fashion-MNIST from its four IDX files (Debian's `dataset-fashion-mnist`); never downloaded."""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from .base import DataError, Dataset

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                 "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
FASHION_HINT = ("Fashion-MNIST not found: install it with `apt-get install dataset-fashion-mnist`, "
                "or pass --data-dir / set VAE_DATA_DIR to a folder holding the four IDX .gz files")


def find_fashion_mnist(data_dir: str | os.PathLike | None = None) -> Path:
    """The first of --data-dir, $VAE_DATA_DIR, Debian's path that holds all four files."""
    candidates = [data_dir, os.environ.get("VAE_DATA_DIR"), DEBIAN_FASHION_DIR]
    for cand in candidates:
        if not cand:
            continue
        d = Path(cand)
        if all(_idx_path(d, name) for pair in FASHION_FILES.values() for name in pair):
            return d
        if cand is data_dir:            # an explicit folder that lacks the files is an error
            raise DataError(f"{d} does not hold the Fashion-MNIST IDX files. {FASHION_HINT}")
    raise DataError(FASHION_HINT)


def _idx_path(d: Path, name: str) -> Path | None:
    for p in (d / f"{name}.gz", d / name):
        if p.is_file():
            return p
    return None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzipped or not): magic, dims as big-endian uint32, then uint8 data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise DataError(f"{path}: not an IDX file (too short)")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"{path}: not a uint8 IDX file")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise DataError(f"{path}: truncated ({arr.size} values, header says {shape})")
    return arr.reshape(shape).copy()         # writable, detached from the file buffer


def load_fashion_mnist(split: str, data_dir=None) -> Dataset:
    d = find_fashion_mnist(data_dir)
    img_name, lbl_name = FASHION_FILES[split]
    images = read_idx(_idx_path(d, img_name))[:, None]          # (N, 1, 28, 28)
    labels = read_idx(_idx_path(d, lbl_name)).astype(np.int64)
    return Dataset(np.ascontiguousarray(images), labels, FASHION_CLASSES)
