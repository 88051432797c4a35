"""How typical is an image for a model: its -ELBO, the same corrected for the image's complexity, the
importance-weighted bound, where in the image the model disagrees, and percentiles against the test set.

The -ELBO bounds -log p(x), so a large value should mean "unusual". It famously does not: a model trained
on Fashion-MNIST gives MNIST digits a *higher* likelihood than clothes (Nalisnick et al. 2019, "Do Deep
Generative Models Know What They Don't Know?"). Simple images are cheap to encode whatever they show.
Serrà et al. (ICLR 2020, "Input complexity and out-of-distribution detection with likelihood-based
generative models") subtract the image's complexity L(x), its length under a general-purpose lossless
compressor (here WebP's lossless mode, in nats): S(x) = -log p(x) - L(x). Higher means less typical.

Both terms must measure the same thing, the 8-bit pixels, in the same unit. The decoder's Bernoulli-style
(or fixed-σ Gaussian) likelihood is a density on [0, 1], not a probability of 256 grey levels, so here the
decoder's mean is read as a discretized logistic per pixel with the end bins open (Salimans et al. 2017,
PixelCNN++), its scale fitted once per model on its test set: -log p(x) of the very bytes WebP encodes.
The model's own -ELBO (what it was trained on, what the Encode tab shows) is reported beside it.

Deterministic: every bound is averaged over ELBO_SAMPLES fixed draws of eps, so the same pixels always
give the same number (the page, the API, the stored test distribution).
"""
from __future__ import annotations

import io
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image

from ..nets.kinds import kind_of
from ..nets.losses import reconstruction_nll
from ..nets.posterior import standard_normal_log_prob
from ..nets.vae import ConvVAE

ELBO_SAMPLES = 8                 # eps draws per image: the estimate's spread is ~0.3 nats on Fashion-MNIST
EPS_SEED = 20190000              # the draws are the same for every image and every call
IWAE_K = 100
REFERENCE_IMAGES = 5000          # test images in the stored distribution (each 0.1% quantile holds 5)
IWAE_IMAGES = 200                # test images whose IWAE is stored (k decodes each: 20,000)
N_QUANTILES = 1001               # the stored test distribution: every 0.1% (metrics.json "typicality")
SCALES = np.geomspace(0.005, 0.5, 25)    # the discretized logistic's scale, fitted per model among these
FIT_IMAGES = 500                 # test images the scale is fitted on
WEBP_METHOD, WEBP_QUALITY = 6, 50    # lossless WebP effort: see complexity_nats
BIN = 0.5 / 255                  # half a grey level, in [0, 1] units
VERDICTS = ((99.0, "very unusual for this model"), (95.0, "unusual for this model"),
            (0.0, "typical of what this model was trained on"))


def complexity_nats(images: np.ndarray, workers: int = 2) -> np.ndarray:
    """L(x): each uint8 (C, H, W) image's length under a lossless image compressor, in nats (Serrà et al.
    2020). WebP's lossless mode: Serrà et al. found the better the compressor, the better the correction,
    and here it is (ROC AUC, emoji in grey against Fashion-MNIST: 0.971 with WebP, 0.889 with PNG;
    bench/typicality.py). Effort: method 6 at quality 50 encodes ~15x faster than at quality 100 (2,700 against
    180 images/s on one thread here) and ranks as well (0.971 against 0.967), which the folder check needs.
    The same compressor for every image, so its fixed header shifts every score alike.
    Pillow releases the GIL while it encodes: a batch is compressed on `workers` threads."""
    if len(images) > 8 and workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            return np.fromiter(pool.map(_webp_nats, images), dtype=np.float64, count=len(images))
    return np.array([_webp_nats(im) for im in images], dtype=np.float64)


def _webp_nats(im: np.ndarray) -> float:
    arr = im[0] if im.shape[0] == 1 else im.transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="WEBP", lossless=True, quality=WEBP_QUALITY,
                                                    method=WEBP_METHOD)
    return 8 * len(buf.getvalue()) * math.log(2)


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
    if not kind_of(cfg).has_sigma:                  # a point code: recon at it, no ε to draw
        recon = reconstruction_nll(vae.decode_logits(q.mode()), x, cfg.recon, cfg.mse_sigma)
        return recon + kl
    eps = _eps(len(x), cfg.latent_dim)
    z = q.mu.unsqueeze(0) + q.std.unsqueeze(0) * eps                          # (S, N, D)
    logits = vae.decode_logits(z.reshape(-1, cfg.latent_dim))
    xx = x.unsqueeze(0).expand(ELBO_SAMPLES, *x.shape).reshape(-1, *x.shape[1:])
    recon = reconstruction_nll(logits, xx, cfg.recon, cfg.mse_sigma).view(ELBO_SAMPLES, -1).mean(0)
    return recon + kl


def discrete_nll(x8: torch.Tensor, mean: torch.Tensor, scale: float) -> torch.Tensor:
    """-log P(x) of uint8-valued pixels x8 (as floats 0..255) under a discretized logistic around the
    decoder's mean, summed per image (N,): each grey level is a bin of width 1/255, the end bins reach to
    ±infinity (Salimans et al. 2017, eq. 2), so a black background the decoder predicts costs almost nothing."""
    return -_log_bin_prob(x8, mean, scale).flatten(1).sum(1)


def _log_bin_prob(x8: torch.Tensor, mean: torch.Tensor, scale: float) -> torch.Tensor:
    """log P(each pixel's grey level), elementwise: the logistic's mass over the pixel's bin."""
    x = x8 / 255.0
    upper = torch.sigmoid((x + BIN - mean) / scale)
    lower = torch.sigmoid((x - BIN - mean) / scale)
    p = torch.where(x8 <= 0, upper, torch.where(x8 >= 255, 1.0 - lower, upper - lower))
    return torch.log(p.clamp_min(1e-12))


@torch.inference_mode()
def neg_elbo_8bit(vae: ConvVAE, x8: torch.Tensor, scale: float) -> torch.Tensor:
    """-ELBO of the 8-bit image (N,), nats: the discretized likelihood averaged over the fixed eps draws,
    plus the same KL. What the complexity correction is subtracted from."""
    cfg = vae.config
    x = x8 / 255.0
    q = vae.posterior(x)
    if not kind_of(cfg).has_sigma:
        return discrete_nll(x8, vae.decode(q.mode()), scale) + q.kl()
    eps = _eps(len(x), cfg.latent_dim)
    z = (q.mu.unsqueeze(0) + q.std.unsqueeze(0) * eps).reshape(-1, cfg.latent_dim)      # (S*N, D)
    mean = vae.decode(z).view(ELBO_SAMPLES, *x.shape)
    nll = torch.stack([discrete_nll(x8, mean[k], scale) for k in range(ELBO_SAMPLES)]).mean(0)
    return nll + q.kl()


@torch.inference_mode()
def fit_scale(vae: ConvVAE, test_images: np.ndarray) -> float:
    """The discretized logistic's scale that gives FIT_IMAGES test images, decoded at their means, the highest
    likelihood: one number per model, a grid search over one decode per image."""
    x8 = torch.from_numpy(test_images[:FIT_IMAGES]).float()
    mean = vae.decode(vae.posterior(x8 / 255.0).mode())
    costs = [discrete_nll(x8, mean, float(s)).mean().item() for s in SCALES]
    return round(float(SCALES[int(np.argmin(costs))]), 5)


@torch.inference_mode()
def iwae_nll_8bit(vae: ConvVAE, x8: torch.Tensor, scale: float, k: int = IWAE_K) -> torch.Tensor:
    """-log p(x) of the 8-bit image by the importance-weighted bound with k samples (Burda et al. 2015):
    log (1/k) sum_i P(x | z_i) p(z_i) / q(z_i | x), per image (N,). Tighter than the ELBO, for the curious."""
    if not kind_of(vae).has_sigma:
        raise ValueError("the importance-weighted bound needs a Gaussian q(z|x)")
    x = x8 / 255.0
    q = vae.posterior(x)
    z = q.sample(torch.Generator().manual_seed(EPS_SEED), n=k)                 # (k, N, D)
    mean = vae.decode(z.reshape(-1, z.shape[-1])).view(k, *x.shape)
    log_px = -torch.stack([discrete_nll(x8, mean[i], scale) for i in range(k)])  # (k, N)
    log_w = log_px + standard_normal_log_prob(z) - q.log_prob(z)
    return -(torch.logsumexp(log_w, dim=0) - math.log(k))


@torch.inference_mode()
def pixel_nll_8bit(vae: ConvVAE, x8: torch.Tensor, scale: float) -> torch.Tensor:
    """-log P(pixel) at z = mu, per pixel (N, H, W), summed over channels: where the image departs from what
    the decoder expects at the image's own code (the anomaly map)."""
    mean = vae.decode(vae.posterior(x8 / 255.0).mode())
    return -_log_bin_prob(x8, mean, scale).sum(1)


def scores(vae: ConvVAE, images: np.ndarray, scale: float, batch: int = 250, own: bool = True,
           workers: int = 2) -> dict[str, np.ndarray]:
    """uint8 (N, C, H, W) -> per image (nats): "elbo" (the model's own -ELBO; only when `own`), "neg_elbo"
    (-ELBO of the 8-bit image), "complexity" (lossless WebP length) and "score" = neg_elbo - complexity
    (Serrà et al. 2020). workers: threads for the compressor."""
    mine, eight = [], []
    for i in range(0, len(images), batch):
        x8 = torch.from_numpy(images[i:i + batch]).float()
        if own:
            mine.append(neg_elbo(vae, x8 / 255.0).double().numpy())
        eight.append(neg_elbo_8bit(vae, x8, scale).double().numpy())
    cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0))       # noqa: E731
    neg, comp = cat(eight), complexity_nats(images, workers)
    out = {"neg_elbo": neg, "complexity": comp, "score": neg - comp}
    return out | {"elbo": cat(mine)} if own else out


def reference(vae: ConvVAE, test_images: np.ndarray, iwae_images: int = IWAE_IMAGES) -> dict:
    """The test set's distribution of both scores as quantiles (every 0.1%), and the fitted scale, for
    metrics.json "typicality": what every percentile is read against. Computed once per model (training,
    `python -m model evaluate --typicality`; a live run's snapshot takes fewer IWAE images, to be quick)."""
    test_images = test_images[:REFERENCE_IMAGES]
    scale = fit_scale(vae, test_images)
    s = scores(vae, test_images, scale, own=False)
    qs = np.linspace(0, 1, N_QUANTILES)
    out = {"n": int(len(test_images)), "elbo_samples": ELBO_SAMPLES, "scale": scale,
           "neg_elbo_quantiles": [round(float(v), 2) for v in np.quantile(s["neg_elbo"], qs)],
           "score_quantiles": [round(float(v), 2) for v in np.quantile(s["score"], qs)]}
    if kind_of(vae).has_sigma:                 # the tighter bound, on fewer images (k decodes each)
        iw = iwae_all(vae, test_images[:iwae_images], scale)
        out |= {"iwae_n": len(iw), "iwae_k": IWAE_K,
                "iwae_quantiles": [round(float(v), 2) for v in np.quantile(iw, qs)]}
    return out


def iwae_all(vae: ConvVAE, images: np.ndarray, scale: float, batch: int = 25) -> np.ndarray:
    """The 8-bit IWAE (k = IWAE_K) of many images, in batches small enough for k copies of each."""
    parts = [iwae_nll_8bit(vae, torch.from_numpy(images[i:i + batch]).float(), scale).double().numpy()
             for i in range(0, len(images), batch)]
    return np.concatenate(parts) if parts else np.zeros(0)


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


def verdict(neg_pct: float, score_pct: float, complexity: float, iwae_pct: float | None = None) -> dict:
    """A line in plain words from the corrected score's percentile ("verdict"; "words" is its first part),
    and when a likelihood disagrees with it, why ("why"). iwae_pct: the tighter bound's percentile."""
    words = next(w for cut, w in VERDICTS if score_pct >= cut)
    share = "all" if score_pct >= 99.95 else f"{score_pct:.0f}%"
    line = f"{words}: more unusual than {share} of its test images (complexity-corrected score)"
    size = complexity / math.log(2) / 8
    fooled = [(name, pct) for name, pct in (("−ELBO", neg_pct), ("importance-weighted bound (IWAE)", iwae_pct))
              if pct is not None and pct < 95.0]
    why = ""
    if fooled and score_pct >= 95.0:
        name, pct = fooled[-1]                                  # the tighter bound when both are fooled
        why = (f"The likelihood is fooled: by its {name} the image is more likely than {100 - pct:.0f}% of the "
               f"test images, but it is simple (it compresses to {size:.0f} bytes), and a simple image is cheap "
               f"to encode whatever it shows (Nalisnick et al. 2019). Subtracting that complexity (Serrà et al. "
               f"2020) shows the model has not seen its like.")
    elif neg_pct >= 95.0 and score_pct < 95.0:
        why = (f"The raw −ELBO is high (more unusual than {neg_pct:.0f}% of the test images) because the image is "
               f"complex: it compresses to {size:.0f} bytes. For its complexity, the model explains it as well as "
               f"its test images.")
    return {"verdict": line, "words": words, "why": why}
