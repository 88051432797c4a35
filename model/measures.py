"""Numbers for the lab's claims: how sharp a set of images is, and how far generated images lie
from the data. Pure numpy on uint8 or [0, 1] arrays shaped (N, C, H, W)."""
from __future__ import annotations

import numpy as np


def _unit(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def gradient_magnitude(images: np.ndarray) -> np.ndarray:
    """Mean |∇x| per image (N,): finite differences across and down, summed over channels.

    A blurred image has soft edges, so its pixel-to-pixel differences are small: this is the
    page's sharpness measure. Compare a model's images to the data's with sharpness_ratio."""
    x = _unit(images)
    dx = np.abs(np.diff(x, axis=-1))[..., :-1, :]           # (N, C, H-1, W-1)
    dy = np.abs(np.diff(x, axis=-2))[..., :, :-1]
    return np.sqrt(dx ** 2 + dy ** 2).sum(axis=1).mean(axis=(-2, -1))


def sharpness_ratio(images: np.ndarray, reference: np.ndarray) -> float:
    """Mean gradient magnitude of images over the reference's (the test images): 1.0 is as sharp
    as the data, 0.5 has edges half as steep on average."""
    return float(gradient_magnitude(images).mean() / max(gradient_magnitude(reference).mean(), 1e-12))


def nearest_distances(queries: np.ndarray, reference: np.ndarray, chunk: int = 256,
                      exclude_self: bool = False, shape: bool = False) -> np.ndarray:
    """Euclidean distance in pixel space ([0, 1] per pixel) from each query to its nearest reference
    image (N,). exclude_self: queries are the reference itself, so skip the zero distance to oneself.

    shape=True scales every image to unit length first, so only its shape counts, not its
    brightness: a faint, nearly black image is close in plain pixel distance to every dark test image
    (a sandal, a bag strap) without looking like any of them."""
    q = _unit(queries).reshape(len(queries), -1).astype(np.float64)
    r = _unit(reference).reshape(len(reference), -1).astype(np.float64)
    if shape:
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-6)
        r = r / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-6)
    r2 = (r ** 2).sum(1)
    out = np.empty(len(q))
    for i in range(0, len(q), chunk):
        block = q[i:i + chunk]
        d2 = (block ** 2).sum(1, keepdims=True) - 2 * block @ r.T + r2
        if exclude_self:
            d2[np.arange(len(block)), np.arange(i, i + len(block))] = np.inf
        out[i:i + chunk] = np.sqrt(np.maximum(d2.min(1), 0))
    return out
