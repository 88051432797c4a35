"""The lab, side by side: the same inputs through 2-4 models (ui/compare.py and the /compare endpoint).

The story it makes visible: an autoencoder maps an image to a point; a VAE maps it to a Gaussian
cloud, and the KL term packs the clouds around N(0, I) so that the space can be sampled; a larger
beta packs them harder and blurs more; a VQ-VAE's codebook keeps detail and samples through a
learned prior over its codes; a GAN's generator (the same decoder) is sharp but has no encoder.
Nothing here imports gradio or plotly.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import numpy as np
import torch
from PIL import Image

from ..analysis.sample_quality import blur_and_distance
from ..nets.limits import ExplorerError
from ..nets.vae import has_encoder
from ..nets.walk import prior_draws
from ..store.pictures import grid, to_images
from . import requests as ex
from .registry import LoadedModel, ModelRegistry

MIN_MODELS, MAX_MODELS = 2, 4
CLOUD_POINTS = 300          # test images drawn as mu ± 2 sigma ellipses on the 2-D maps
SEEDS_KEPT = 8              # each model keeps its draws for this many seeds (a class clicks the same few;
                            # a colour model's grid is ~0.8 MB)


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


def reconstructions(models: list[LoadedModel], source, seed: int = 0) -> list[dict | None]:
    """Each model's encoding of the same image: its input, reconstruction, and the two ELBO terms
    (recon nats; KL nats, None for an autoencoder, which has no KL). None for a GAN: it has no encoder."""
    if not any(has_encoder(m.vae) for m in models):
        raise ExplorerError("pick a model with an encoder too: a GAN cannot reconstruct the image")
    return [ex.encode(m, source, seed) if has_encoder(m.vae) else None for m in models]


def once(m: LoadedModel, key, compute: Callable):
    """compute() the first time `key` is asked of this loaded model, then its stored value (m.cache lives and
    goes with the model: what depends only on the model is computed once per load)."""
    if key not in m.cache:
        m.cache[key] = compute()
    return m.cache[key]


def draws(m: LoadedModel, seed: int, n: int = 16) -> Image.Image:
    """n of the model's "samples" (model.nets.walk.prior_draws at T = 1) as a grid; the last SEEDS_KEPT seeds'
    grids are kept per model (the VQ-VAE's prior draws its codes one by one: about a second). Callers do not
    change the image."""
    kept = once(m, "draws", OrderedDict)
    image = kept.get((seed, n))
    if image is None:
        image = kept[(seed, n)] = draw_grid(m, seed, n)
        while len(kept) > SEEDS_KEPT:
            kept.popitem(last=False)                 # the oldest seed first
    return image


@torch.inference_mode()
def draw_grid(m: LoadedModel, seed: int, n: int) -> Image.Image:
    images = to_images(m.vae.decode(prior_draws(m.vae, n, 1.0, seed)), m.config.image_size * 2)
    return grid(images, cols=int(np.ceil(np.sqrt(n))))


def test_images(m: LoadedModel) -> np.ndarray:
    """The stored test-set thumbnails, uint8 (N, C, H, W): the reference for every measure here."""
    return m.atlas["thumbnails"]


def measures(m: LoadedModel) -> dict:
    """blur_and_distance against the full test set, as training or `python -m model lab report` stored it
    (metrics.json "measures"); else on the model's stored test thumbnails, computed once per model."""
    stored = m.metrics.get("measures")
    if stored:
        return {k: v for k, v in stored.items() if k != "images"}
    return once(m, "measures", lambda: blur_and_distance(m.vae, test_images(m)))


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
    """The recorded training snapshots, prepared once per model for the page's animation, or None when none
    were recorded: each test image's class, and mu as int16 (K, N, D) with the scale that gives it back
    (mu ≈ q * scale, to within scale / 2: far below a pixel of the map), its largest |mu| and its mean radius
    per snapshot."""
    return once(m, "organising", lambda: prepare_snapshots(m))


def prepare_snapshots(m: LoadedModel) -> dict | None:
    snap = m.snapshots()
    if snap is None:
        return None
    mu = snap["mu"].astype(np.float32)                                   # (K, N, D)
    reach = np.abs(mu).reshape(len(mu), -1).max(axis=1)                  # (K,) largest |mu| per snapshot
    scale = max(float(reach.max()), 1e-6) / np.iinfo(np.int16).max
    return {"step": snap["step"], "epoch": snap["epoch"], "q": np.round(mu / scale).astype("<i2"), "scale": scale,
            "reach": reach, "radius": np.linalg.norm(mu, axis=2).mean(axis=1),
            "labels": m.atlas["labels"][snap["index"]].astype(int), "classes": m.class_names}
