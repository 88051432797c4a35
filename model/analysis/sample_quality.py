"""Numbers for the lab's claims: how sharp a set of images is, and how far generated images lie
from the data. Pure numpy on uint8 or [0, 1] arrays shaped (N, C, H, W)."""
from __future__ import annotations

import numpy as np
import torch

from ..nets.vae import has_encoder
from ..nets.walk import prior_draws

MEASURE_DRAWS = 256         # prior draws for the sample-distance and sharpness figures
MEASURE_IMAGES = 1000       # test images (stored thumbnails) reconstructed for the sharpness figure


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
    return nearest(queries, reference, chunk, exclude_self, shape)[0]


def nearest(queries: np.ndarray, reference: np.ndarray, chunk: int = 256, exclude_self: bool = False,
            shape: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """nearest_distances, with which reference image is the nearest (N,) int."""
    q = _unit(queries).reshape(len(queries), -1).astype(np.float64)
    r = _unit(reference).reshape(len(reference), -1).astype(np.float64)
    if shape:
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-6)
        r = r / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-6)
    r2 = (r ** 2).sum(1)
    out, which = np.empty(len(q)), np.empty(len(q), dtype=np.int64)
    for i in range(0, len(q), chunk):
        block = q[i:i + chunk]
        d2 = (block ** 2).sum(1, keepdims=True) - 2 * block @ r.T + r2
        if exclude_self:
            d2[np.arange(len(block)), np.arange(i, i + len(block))] = np.inf
        which[i:i + chunk] = d2.argmin(1)
        out[i:i + chunk] = np.sqrt(np.maximum(d2.min(1), 0))
    return out, which


@torch.inference_mode()
def blur_and_distance(vae, reference: np.ndarray, n_recon: int = MEASURE_IMAGES, n_draws: int = MEASURE_DRAWS,
                      seed: int = 0) -> dict:
    """The blur and the sampling gap in numbers, against reference test images (uint8 (N, C, H, W)).

    sharp_recon / sharp_samples: mean gradient magnitude of the reconstructions (decoded means) of
    the first n_recon images, and of n_draws "samples", over those images' (1.0 = as sharp as the
    data). sample_distance: median distance from the draws to their nearest reference image, beside
    data_distance, the same for n_draws reference images to the others: draws that look like data
    sit about as close to it as the data does. The *_shape_ distances compare shapes only (every
    image scaled to unit length; measures.nearest_distances), which faint draws cannot game. A GAN has no
    encoder, so no reconstructions: its sharp_recon is None."""
    ref = reference[:n_recon]
    samples = vae.decode(prior_draws(vae, n_draws, 1.0, seed)).numpy()
    out = {"sharp_recon": None, "sharp_samples": round(sharpness_ratio(samples, ref), 3)}
    if has_encoder(vae):
        recon = vae.decode(vae.posterior(torch.from_numpy(ref).float().div(255)).mode()).numpy()
        out["sharp_recon"] = round(sharpness_ratio(recon, ref), 3)
    for key, shape in (("", False), ("_shape", True)):
        out[f"sample{key}_distance"] = round(float(np.median(nearest_distances(samples, reference, shape=shape))), 3)
        out[f"data{key}_distance"] = round(float(np.median(nearest_distances(
            reference[:n_draws], reference, exclude_self=True, shape=shape))), 3)
    return out
