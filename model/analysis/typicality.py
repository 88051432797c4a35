"""How typical is an image for a model: its -ELBO, the same corrected for the image's complexity, the
importance-weighted bound, where in the image the model disagrees, and percentiles against the test set.

The -ELBO bounds -log p(x), so a large value should mean "unusual". It famously does not: a model trained
on Fashion-MNIST gives MNIST digits a *higher* likelihood than clothes (Nalisnick et al. 2019, "Do Deep
Generative Models Know What They Don't Know?"). Simple images are cheap to encode whatever they show.
Serrà et al. (ICLR 2020, "Input complexity and out-of-distribution detection with likelihood-based
generative models") subtract the image's complexity L(x), its length under a general-purpose lossless
compressor (here PNG, in nats): S(x) = -log p(x) - L(x). Both scores: higher means less typical.

Deterministic: the ELBO is averaged over ELBO_SAMPLES fixed draws of eps, so the same pixels always give
the same number (the page, the API, the stored test distribution).
"""
from __future__ import annotations

import io
import math

import numpy as np
import torch
from PIL import Image

from ..nets.losses import iwae_bound, reconstruction_nll
from ..nets.vae import ConvVAE

ELBO_SAMPLES = 8                 # eps draws per image: the estimate's spread is ~0.3 nats on Fashion-MNIST
EPS_SEED = 20190000              # the draws are the same for every image and every call
IWAE_K = 100
N_QUANTILES = 1001               # the stored test distribution: every 0.1% (metrics.json "typicality")
VERDICTS = ((99.0, "very unusual for this model"), (95.0, "unusual for this model"),
            (0.0, "typical of what this model was trained on"))


def has_likelihood(vae: ConvVAE) -> bool:
    """A plain autoencoder has no KL term, so no ELBO and no likelihood to judge by."""
    return vae.config.kind != "ae"


def complexity_nats(images: np.ndarray) -> np.ndarray:
    """L(x): each uint8 (C, H, W) image's length as a PNG (zlib at level 9), in nats (Serrà et al. 2020).
    The same compressor for every image, so the fixed header only shifts every score alike."""
    out = np.empty(len(images), dtype=np.float64)
    for i, im in enumerate(images):
        arr = im[0] if im.shape[0] == 1 else im.transpose(1, 2, 0)
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG", optimize=True)
        out[i] = 8 * len(buf.getvalue()) * math.log(2)
    return out


def _eps(n: int, dim: int) -> torch.Tensor:
    """(ELBO_SAMPLES, 1, D): the fixed draws, shared by every image of a batch."""
    g = torch.Generator().manual_seed(EPS_SEED)
    return torch.randn(ELBO_SAMPLES, 1, dim, generator=g)


@torch.inference_mode()
def neg_elbo(vae: ConvVAE, x: torch.Tensor) -> torch.Tensor:
    """-ELBO per image (N,), nats: recon averaged over the fixed eps draws, plus the closed-form KL
    (Kingma & Welling 2013, eq. 10). A VQ-VAE's code is a point: recon at it plus its constant KL."""
    cfg = vae.config
    q = vae.posterior(x)
    kl = q.kl()
    if cfg.kind != "vae":
        recon = reconstruction_nll(vae.decode_logits(q.mode()), x, cfg.recon, cfg.mse_sigma)
        return recon + kl
    eps = _eps(len(x), cfg.latent_dim)
    z = q.mu.unsqueeze(0) + q.std.unsqueeze(0) * eps                          # (S, N, D)
    logits = vae.decode_logits(z.reshape(-1, cfg.latent_dim))
    xx = x.unsqueeze(0).expand(ELBO_SAMPLES, *x.shape).reshape(-1, *x.shape[1:])
    recon = reconstruction_nll(logits, xx, cfg.recon, cfg.mse_sigma).view(ELBO_SAMPLES, -1).mean(0)
    return recon + kl


@torch.inference_mode()
def iwae_nll(vae: ConvVAE, x: torch.Tensor, k: int = IWAE_K) -> torch.Tensor | None:
    """-log p(x) estimated by the importance-weighted bound with k samples (Burda et al. 2015), per image;
    None for a model with no Gaussian posterior."""
    if vae.config.kind != "vae":
        return None
    return -iwae_bound(vae, x, k=k, generator=torch.Generator().manual_seed(EPS_SEED))


@torch.inference_mode()
def pixel_nll(vae: ConvVAE, x: torch.Tensor) -> torch.Tensor:
    """-log p(x_ij | z = mu) per pixel (N, H, W), summed over channels: where the image departs from what
    the decoder expects at the image's own code."""
    cfg = vae.config
    logits = vae.decode_logits(vae.posterior(x).mode())
    if cfg.recon == "bce":
        nll = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none")
    else:
        mean = torch.sigmoid(logits)
        nll = 0.5 * ((x - mean) / cfg.mse_sigma) ** 2 + math.log(cfg.mse_sigma) + 0.5 * math.log(2 * math.pi)
    return nll.sum(1)


def scores(vae: ConvVAE, images: np.ndarray, batch: int = 500) -> dict[str, np.ndarray]:
    """uint8 (N, C, H, W) -> {"neg_elbo", "complexity", "score"} per image (nats)."""
    ne = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(images[i:i + batch]).float().div_(255)
        ne.append(neg_elbo(vae, x).double().numpy())
    neg = np.concatenate(ne) if ne else np.zeros(0)
    comp = complexity_nats(images)
    return {"neg_elbo": neg, "complexity": comp, "score": neg - comp}


def reference(vae: ConvVAE, test_images: np.ndarray) -> dict:
    """The test set's distribution of both scores as quantiles (every 0.1%), for metrics.json: what every
    percentile is read against. Computed once per model (training, `python -m model evaluate`)."""
    s = scores(vae, test_images)
    qs = np.linspace(0, 1, N_QUANTILES)
    return {"n": int(len(test_images)), "elbo_samples": ELBO_SAMPLES,
            "neg_elbo_quantiles": [round(float(v), 3) for v in np.quantile(s["neg_elbo"], qs)],
            "score_quantiles": [round(float(v), 3) for v in np.quantile(s["score"], qs)]}


def percentile(value: float, quantiles) -> float:
    """The share of the test images (in %) that score lower than value, read off the stored quantiles."""
    q = np.asarray(quantiles, dtype=np.float64)
    if value <= q[0]:
        return 0.0
    if value >= q[-1]:
        return 100.0
    # several equal quantiles (ties): the share below is the first of them
    hi = np.searchsorted(q, value, side="left")
    lo = hi - 1
    frac = (value - q[lo]) / (q[hi] - q[lo])
    return float(100.0 * (lo + frac) / (len(q) - 1))


def verdict(neg_pct: float, score_pct: float, complexity: float, ref_complexity: float | None = None) -> dict:
    """A line in plain words, from the corrected score's percentile, and when the raw -ELBO disagrees, why."""
    words = next(w for cut, w in VERDICTS if score_pct >= cut)
    line = f"{words}: more unusual than {score_pct:.0f}% of its test images (complexity-corrected score)"
    why = ""
    raw_typical, corrected_unusual = neg_pct < 95.0, score_pct >= 95.0
    if raw_typical and corrected_unusual:
        why = (f"The raw -ELBO calls it typical (more unusual than only {neg_pct:.0f}% of the test images), but the "
               f"image is simple: it compresses to {complexity / math.log(2) / 8:.0f} bytes, so it is cheap to encode "
               f"whatever it shows (Nalisnick et al. 2019). Subtracting that complexity (Serrà et al. 2020) shows "
               f"the model has not seen its like.")
    elif not raw_typical and not corrected_unusual:
        why = (f"The raw -ELBO is high (more unusual than {neg_pct:.0f}% of the test images) because the image is "
               f"complex: it compresses to {complexity / math.log(2) / 8:.0f} bytes. For its complexity, the model "
               f"explains it as well as its test images.")
    return {"verdict": line, "why": why}
