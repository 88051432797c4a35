"""scikit-learn's bundled 8x8 digits: always installed (umap-learn needs scikit-learn), tiny and fast; and
digits drawn as pen strokes, as the sketch pad draws them (the typicality lesson's "handwritten digit")."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

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


# pen strokes of the ten digits on a 10x10 grid: each digit a list of polylines
STROKES = {
    0: [[(5, 1), (2, 3), (2, 7), (5, 9), (8, 7), (8, 3), (5, 1)]], 1: [[(3, 3), (5, 1), (5, 9)], [(3, 9), (7, 9)]],
    2: [[(2, 3), (5, 1), (8, 3), (2, 9), (8, 9)]], 3: [[(2, 1), (8, 1), (5, 4), (8, 6), (5, 9), (2, 8)]],
    4: [[(6, 9), (6, 1), (2, 6), (8, 6)]], 5: [[(8, 1), (3, 1), (2, 5), (6, 4), (8, 6), (6, 9), (2, 8)]],
    6: [[(7, 1), (3, 4), (2, 7), (5, 9), (8, 7), (5, 5), (2, 7)]], 7: [[(2, 1), (8, 1), (4, 9)]],
    8: [[(5, 5), (2, 3), (5, 1), (8, 3), (5, 5), (2, 7), (5, 9), (8, 7), (5, 5)]],
    9: [[(8, 4), (5, 6), (2, 4), (5, 1), (8, 4), (7, 9)]],
}


def stroke_digits(n: int, seed: int = 0, size: int = 28) -> list[Image.Image]:
    """n digits (0, 1, ..., 9, 0, ...) drawn as pen strokes, white on black, 2-3 px wide at 28x28, jittered
    so no two are alike: what a pen on the sketch pad makes, unlike scikit-learn's blurry 8x8 scans."""
    rng = np.random.default_rng(seed)
    k = size / 28
    out = []
    for i in range(n):
        img = Image.new("L", (size, size), 0)
        d = ImageDraw.Draw(img)
        shift, scale = rng.uniform(-2, 2, 2), rng.uniform(1.8, 2.4)
        for line in STROKES[i % 10]:
            pts = [(k * (3 + x * scale + shift[0] + rng.normal(0, 0.5)), k * (3 + y * scale + shift[1]
                    + rng.normal(0, 0.5))) for x, y in line]
            d.line(pts, fill=255, width=max(1, round(k * int(rng.integers(2, 4)))), joint="curve")
        out.append(img)
    return out
