"""The explorer's requests, without the UI: each checks its untrusted arguments (model.nets.limits),
runs the model and the latent operations (model.nets.walk, placement), and returns images and plain data.

Every refusal is an ExplorerError whose message is safe to show to a user. Nothing here imports
gradio or plotly, writes files, or holds state: the UI (ui/) wires these to the page and the API.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..data import ImageError, preprocess_image
from ..nets import limits as checks
from ..nets.kinds import kind_of
from ..nets.limits import MAX_AMOUNT, MAX_SAMPLES, MAX_STEPS, MAX_TEMPERATURE, ExplorerError
from ..nets.losses import reconstruction_nll
from ..nets.posterior import DiagonalGaussian
from ..nets.vae import has_encoder
from ..nets.walk import add_attribute, interpolate, prior_draws, typical_radius
from ..store.pictures import grid, png_data_url, to_image, to_images, uint8_image
from ..store.weights import directions
from .registry import LoadedModel


def rounded(t: torch.Tensor) -> list[float]:
    """A (D,) tensor as the JSON the page and the API show: floats rounded to 4 decimals."""
    return t.detach().numpy().astype(float).round(4).tolist()


def latent_vector(m: LoadedModel, z) -> np.ndarray:
    return checks.latent(z, m.dim, m.latent_limit)


# ---------------------------------------------------------------- decode and encode
@torch.inference_mode()
def decode(m: LoadedModel, z) -> Image.Image:
    """A latent vector (list of D floats) -> the decoded image."""
    zt = torch.from_numpy(latent_vector(m, z)).unsqueeze(0)
    return to_image(m.vae.decode(zt)[0])


def load_upload(m: LoadedModel, source) -> torch.Tensor:
    """Any upload -> (1, C, H, W) in [0, 1] as this model expects it."""
    if source is None:
        raise ExplorerError("no image given: upload one or pick an example")
    try:
        arr = preprocess_image(source, m.config.image_size, m.config.channels, m.config.background)
    except ImageError as e:
        raise ExplorerError(str(e)) from None
    return torch.from_numpy(arr).float().div(255).unsqueeze(0)


def encode(m: LoadedModel, source, seed: int = 0) -> dict:
    """Encode an upload: its posterior q(z|x) = N(mu, sigma^2), one sample z = mu + sigma * eps,
    the reconstruction from z, and the ELBO terms for this image (nats).

    A plain autoencoder or a VQ-VAE has no sigma: z is its code, and logvar, sigma and eps are None.
    The autoencoder has no KL either, so its kl and elbo are None; the VQ-VAE's KL is groups * log K."""
    return encode_input(m, load_upload(m, source), seed)


@torch.inference_mode()
def encode_input(m: LoadedModel, x: torch.Tensor, seed: int = 0) -> dict:
    """encode() of an upload already fitted to the model (load_upload's (1, C, H, W) in [0, 1]): for a
    caller that scores the same pixels otherwise too (the Encode tab's typicality line)."""
    q = m.vae.posterior(x)
    gaussian = q.logvar is not None
    eps = q.noise(torch.Generator().manual_seed(checks.seed(seed))) if gaussian else None
    z = q.reparameterize(eps) if gaussian else q.mode()
    logits = m.vae.decode_logits(z)
    recon = reconstruction_nll(logits, x, m.config.recon, m.config.mse_sigma).item()
    kl = q.kl()
    kl = None if kl is None else round(kl.item(), 3)
    return {
        "input_image": to_image(x[0]),
        "recon_image": to_image(torch.sigmoid(logits)[0]),
        "mu": rounded(q.mu[0]), "logvar": rounded(q.logvar[0]) if gaussian else None,
        "sigma": rounded(q.std[0]) if gaussian else None, "eps": rounded(eps[0]) if gaussian else None,
        "z": rounded(z[0]), "recon": round(recon, 3), "kl": kl,
        "kl_per_dim": rounded(q.kl_per_dim()[0]) if gaussian else None,
        "elbo": None if kl is None else round(-(recon + kl), 3),
        "map_xy": m.map_index.place(q.mu.numpy())[0].astype(float).round(4).tolist(),
    }


@torch.inference_mode()
def reparameterize(m: LoadedModel, mu, logvar, seed: int) -> dict:
    """A fresh eps for the same (mu, sigma): z moves, the distribution does not."""
    if not kind_of(m).has_sigma:
        raise ExplorerError(f"{m.name} is a {kind_of(m).label}: its encoder gives one point and no "
                            f"sigma, so there is no eps to draw again")
    mu_t = torch.from_numpy(latent_vector(m, mu)).unsqueeze(0)
    lv = torch.from_numpy(checks.vector(logvar, m.dim, "logvar").astype(np.float32)).unsqueeze(0)
    q = DiagonalGaussian(mu_t, lv)                               # clamps logvar (inf included)
    eps = q.noise(torch.Generator().manual_seed(checks.seed(seed)))
    z = q.reparameterize(eps)
    return {"z": rounded(z[0]), "eps": rounded(eps[0]), "image": to_image(m.vae.decode(z)[0])}


# ---------------------------------------------------------------- walking and sampling


@torch.inference_mode()
def sample(m: LoadedModel, n, temperature, seed) -> tuple[list[Image.Image], np.ndarray]:
    """n draws z ~ N(0, T^2 I), decoded in one batch."""
    n = checks.whole_number(n, 1, MAX_SAMPLES, "n")
    t = checks.number(temperature, 0.0, MAX_TEMPERATURE, "temperature")
    z = prior_draws(m.vae, n, t, checks.seed(seed))
    return to_images(m.vae.decode(z)), z.numpy()


@torch.inference_mode()
def interpolate_images(m: LoadedModel, source_a, source_b, steps, method: str, seed: int = 0) -> dict:
    """Encode two images (their means), walk between them, decode every frame in one batch.
    Also |z| along both paths, for the plot that shows why slerp stays on the prior's shell.
    A model with no encoder (a GAN) cannot place the images: it walks between its first two draws for `seed`
    instead, and "ends" says which ("images" or "draws")."""
    steps = checks.whole_number(steps, 2, MAX_STEPS, "steps")
    method = checks.method(method)
    other = "spherical" if method == "linear" else "linear"
    if has_encoder(m.vae):
        mu, ends = m.vae.posterior(torch.cat([load_upload(m, source_a), load_upload(m, source_b)])).mode(), "images"
    else:
        mu, ends = prior_draws(m.vae, 2, 1.0, checks.seed(seed)), "draws"
    path = interpolate(mu[0], mu[1], steps, method)                   # (steps, D)
    return {"frames": to_images(m.vae.decode(path)), "z": path.numpy(), "ends": ends,
            "norms": {method: path.norm(dim=1).tolist(),
                      other: interpolate(mu[0], mu[1], steps, other).norm(dim=1).tolist()},
            "radius": typical_radius(m.dim)}


@torch.inference_mode()
def manifold(m: LoadedModel, n: int = 15) -> Image.Image:
    """Figure 4 of Kingma & Welling: for a 2-D latent, decode a grid of z placed at the
    Gaussian's quantiles, so equal areas of the picture hold equal prior mass."""
    if m.dim != 2:
        raise ExplorerError("the manifold grid needs a model with a 2-D latent space")
    vals = torch.distributions.Normal(0, 1).icdf(torch.linspace(0.5 / n, 1 - 0.5 / n, n))
    zz = torch.stack([torch.stack([vals[j], vals[n - 1 - i]]) for i in range(n) for j in range(n)])
    return grid(to_images(m.vae.decode(zz), m.config.image_size * 2), cols=n)


def random_latent(m: LoadedModel, seed: int) -> list[float]:
    """One draw from the model's prior, as Sample draws them (prior_draws: z ~ N(0, I); a VQ-VAE's codes from
    its PixelCNN prior), within the sliders' reach."""
    z = prior_draws(m.vae, 1, 1.0, checks.seed(seed))[0].clamp(-m.latent_limit, m.latent_limit)
    return z.numpy().astype(float).round(3).tolist()


# ---------------------------------------------------------------- attribute directions
@torch.inference_mode()
def attribute(m: LoadedModel, z, name, amount) -> tuple[Image.Image, list[float]]:
    """z + amount * v along a named attribute direction (model.analysis.attributes, White 2016), decoded:
    the image and the new z (clamped to the slider range)."""
    found = directions(m.atlas)
    if not found:
        raise ExplorerError(f"{m.name} has no attribute directions; compute them with "
                            f"`python -m model attributes weights/{m.name}`")
    if not isinstance(name, str) or name not in found:
        raise ExplorerError(f"unknown attribute {str(name)[:40]!r} for {m.name}: choose one of {', '.join(found)}")
    a = checks.number(amount, -MAX_AMOUNT, MAX_AMOUNT, "amount")
    new = np.round(latent_vector(m, add_attribute(latent_vector(m, z), found[name], a)), 4)   # as returned
    return to_image(m.vae.decode(torch.from_numpy(new)[None])[0]), np.round(new.astype(float), 4).tolist()


# ---------------------------------------------------------------- the map
@torch.inference_mode()
def pick(m: LoadedModel, index) -> tuple[list[float], Image.Image]:
    """An atlas point (a test image) -> its posterior mean and the decoded mean."""
    mu = atlas_mean(m, index)
    return rounded(mu), to_image(m.vae.decode(mu[None])[0])


def atlas_mean(m: LoadedModel, index) -> torch.Tensor:
    """The posterior mean of test image `index`, (D,)."""
    i = checks.whole_number(index, 0, len(m.atlas["mu"]) - 1, "index")
    return torch.from_numpy(np.asarray(m.atlas["mu"][i], dtype=np.float32))


def map_points(m: LoadedModel) -> dict:
    """The static part of the map: every test mean's 2-D position and class (sent once)."""
    xy = m.atlas["xy"]
    return {"model": m.name, "x": np.round(xy[:, 0], 3).tolist(), "y": np.round(xy[:, 1], 3).tolist(),
            "label": m.atlas["labels"].astype(int).tolist(), "classes": m.class_names,
            "method": str(m.atlas["map_method"])}


@torch.inference_mode()
def hover_card(m: LoadedModel, index) -> dict:
    """For the map's hover: the test image (if a thumbnail was stored) and its decoded mean."""
    i = checks.whole_number(index, 0, len(m.atlas["mu"]) - 1, "index")
    thumbs = m.atlas["thumb_index"]
    pos = int(np.searchsorted(thumbs, i))
    original = None
    if pos < len(thumbs) and thumbs[pos] == i and has_encoder(m.vae):   # else its points are draws, not test images
        original = png_data_url(uint8_image(m.atlas["thumbnails"][pos], 84))
    decoded = to_image(m.vae.decode(atlas_mean(m, i)[None])[0], 84)
    label = int(m.atlas["labels"][i])
    return {"index": i, "label": m.class_names[label] if label < len(m.class_names) else str(label),
            "original": original, "decoded": png_data_url(decoded)}


def place(m: LoadedModel, z) -> list[float]:
    """Where a latent vector lands on the map."""
    return m.map_index.place(latent_vector(m, z)[None])[0].astype(float).round(4).tolist()


def test_set_gallery(m: LoadedModel, per_class: int = 2, size: int = 84) -> list[tuple[Image.Image, str]]:
    """A few stored test-set thumbnails per class, with their class names (the page's picker)."""
    a = m.atlas                                         # a GAN's "labels" are its draws': its thumbnails have their own
    labels = a["thumb_labels"] if "thumb_labels" in a else a["labels"][a["thumb_index"]]
    out = []
    for c, name in enumerate(m.class_names):
        for pos in (labels == c).nonzero()[0][:per_class]:
            out.append((uint8_image(m.atlas["thumbnails"][int(pos)], size), name))
    return out
