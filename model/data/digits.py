"""scikit-learn's bundled 8x8 digits: always installed (umap-learn needs scikit-learn), tiny and fast."""
from __future__ import annotations

import numpy as np
from PIL import Image

from .base import Dataset


def load_digits(split: str, image_size: int = 28) -> Dataset:
    """scikit-learn's bundled 8x8 digits (values 0..16), resized; 80/20 split, fixed order."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    imgs = (bunch.images / 16.0 * 255).astype(np.uint8)
    resized = np.stack([np.asarray(Image.fromarray(im).resize((image_size, image_size), Image.BILINEAR))
                        for im in imgs])[:, None]
    labels = bunch.target.astype(np.int64)
    test = np.arange(len(labels)) % 5 == 0
    keep = test if split == "test" else ~test
    return Dataset(resized[keep], labels[keep], tuple(str(i) for i in range(10)))
