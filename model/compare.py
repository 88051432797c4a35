"""The lab, side by side: the same inputs through 2-4 models (ui/compare.py and the /compare endpoint).

The story it makes visible: an autoencoder maps an image to a point; a VAE maps it to a Gaussian
cloud, and the KL term packs the clouds around N(0, I) so that the space can be sampled; a larger
beta packs them harder and blurs more; a VQ-VAE's codebook keeps detail but leaves it with no
prior to sample from. Nothing here imports gradio or plotly.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from . import explorer as ex
from .checks import ExplorerError
from .images import grid, to_images
from .measures import nearest_distances, sharpness_ratio
from .registry import LoadedModel, ModelRegistry

MIN_MODELS, MAX_MODELS = 2, 4
CLOUD_POINTS = 300          # test images drawn as mu ± 2 sigma ellipses on the 2-D maps
MEASURE_DRAWS = 256         # prior draws for the sample-distance and sharpness figures
MEASURE_IMAGES = 1000       # test images (stored thumbnails) reconstructed for the sharpness figure


def pick_models(registry: ModelRegistry, names) -> list[LoadedModel]:
    """2-4 distinct model names -> their models, in the order given."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ExplorerError(f"models must be a list of {MIN_MODELS} to {MAX_MODELS} model names")
    names = list(dict.fromkeys(names))
    if not MIN_MODELS <= len(names) <= MAX_MODELS:
        raise ExplorerError(f"pick {MIN_MODELS} to {MAX_MODELS} models to compare (got {len(names)})")
    return [registry.get(n) for n in names]


def reconstructions(models: list[LoadedModel], source, seed: int = 0) -> list[dict]:
    """Each model's encoding of the same image: its input, reconstruction, and the two ELBO terms
    (recon nats; KL nats, None for an autoencoder, which has no KL)."""
    return [ex.encode(m, source, seed) for m in models]


@torch.inference_mode()
def draws(m: LoadedModel, seed: int, n: int = 16) -> Image.Image:
    """n of the model's "samples" (model.explorer.prior_draws at T = 1) as a grid."""
    images = to_images(m.vae.decode(ex.prior_draws(m.vae, n, 1.0, seed)), m.config.image_size * 2)
    return grid(images, cols=int(np.ceil(np.sqrt(n))))


def test_images(m: LoadedModel) -> np.ndarray:
    """The stored test-set thumbnails, uint8 (N, C, H, W): the reference for every measure here."""
    return m.atlas["thumbnails"]


@torch.inference_mode()
def blur_and_distance(vae, reference: np.ndarray, n_recon: int = MEASURE_IMAGES, n_draws: int = MEASURE_DRAWS,
                      seed: int = 0) -> dict:
    """The blur and the sampling gap in numbers, against reference test images (uint8 (N, C, H, W)).

    sharp_recon / sharp_samples: mean gradient magnitude of the reconstructions (decoded means) of
    the first n_recon images, and of n_draws "samples", over those images' (1.0 = as sharp as the
    data). sample_distance: median distance from the draws to their nearest reference image, beside
    data_distance, the same for n_draws reference images to the others: draws that look like data
    sit about as close to it as the data does. The *_shape_ distances compare shapes only (every
    image scaled to unit length; measures.nearest_distances), which faint draws cannot game."""
    ref = reference[:n_recon]
    recon = vae.decode(vae.posterior(torch.from_numpy(ref).float().div(255)).mode()).numpy()
    samples = vae.decode(ex.prior_draws(vae, n_draws, 1.0, seed)).numpy()
    out = {"sharp_recon": round(sharpness_ratio(recon, ref), 3),
           "sharp_samples": round(sharpness_ratio(samples, ref), 3)}
    for key, shape in (("", False), ("_shape", True)):
        out[f"sample{key}_distance"] = round(float(np.median(nearest_distances(samples, reference, shape=shape))), 3)
        out[f"data{key}_distance"] = round(float(np.median(nearest_distances(
            reference[:n_draws], reference, exclude_self=True, shape=shape))), 3)
    return out


def measures(m: LoadedModel) -> dict:
    """blur_and_distance on the model's stored test thumbnails, computed once per model."""
    if "measures" not in m.cache:
        m.cache["measures"] = blur_and_distance(m.vae, test_images(m))
    return m.cache["measures"]


def clouds(m: LoadedModel, n: int = CLOUD_POINTS) -> dict:
    """For a 2-D model: mu and sigma (None for an autoencoder: a point has no spread) of the first n
    test images, with their classes."""
    if m.dim != 2:
        raise ExplorerError(f"{m.name} has a {m.dim}-D latent space; the clouds are drawn for 2-D models")
    mu = np.asarray(m.atlas["mu"][:n], dtype=np.float64)
    lv = m.atlas.get("logvar")
    sigma = None if lv is None else np.exp(0.5 * np.asarray(lv[:n], dtype=np.float64))
    return {"mu": mu, "sigma": sigma, "labels": m.atlas["labels"][:n].astype(int), "classes": m.class_names}


def organising(m: LoadedModel) -> dict | None:
    """The recorded training snapshots with each image's class, or None when none were recorded."""
    snap = m.snapshots()
    if snap is None:
        return None
    return dict(snap, labels=m.atlas["labels"][snap["index"]].astype(int), classes=m.class_names)
