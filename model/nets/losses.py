"""The VAE objective in one place.

ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)), maximised in training (Kingma & Welling 2013,
eq. 3). We minimise its negative, in nats per image: recon (the negative log-likelihood of the
pixels) + beta * KL. The two terms pull against each other: a sharper reconstruction wants a
precise, informative q(z|x); a small KL wants q(z|x) close to the prior N(0, I).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .kinds import kind_of
from .posterior import standard_normal_log_prob


def reconstruction_nll(logits: torch.Tensor, x: torch.Tensor, recon: str = "bce",
                       mse_sigma: float = 0.1) -> torch.Tensor:
    """-log p(x|z) per image (N,), summed over pixels.

    "bce": pixels in [0, 1] scored with binary cross-entropy (the continuous relaxation used
    for MNIST-style grey images). "mse": a Gaussian with fixed sigma, whose NLL is a scaled
    squared error plus a constant (so it is still a proper log-likelihood).
    """
    if recon == "bce":
        nll = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="none")
    elif recon == "mse":
        mean = torch.sigmoid(logits.float())
        nll = 0.5 * ((x.float() - mean) / mse_sigma) ** 2 + math.log(mse_sigma) + 0.5 * math.log(2 * math.pi)
    else:
        raise ValueError(f"unknown reconstruction loss {recon!r}")
    return nll.flatten(1).sum(dim=1)


def elbo_terms(vae, x: torch.Tensor, beta: float | None = None,
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """One-sample estimate of the negative ELBO, averaged over the batch.

    Returns {"loss": recon + beta*KL (+ the VQ-VAE's codebook and commitment terms; what training
    minimises), "recon", "kl", "neg_elbo": recon + KL (beta = 1, the true bound)} as scalar tensors.
    A plain autoencoder has no KL (its rate is undefined): "kl" is 0 there and the loss is recon alone.
    """
    cfg = vae.config
    beta = cfg.beta if beta is None else beta
    logits, q = vae(x, generator=generator)               # through forward: DDP syncs gradients there
    recon = reconstruction_nll(logits, x, cfg.recon, cfg.mse_sigma).mean()
    kl = q.kl()
    kl = recon.new_zeros(()) if kl is None else kl.float().mean()
    extra = q.penalty().float().mean()
    return {"loss": recon + beta * kl + extra, "recon": recon, "kl": kl, "neg_elbo": recon + kl}


@torch.no_grad()
def iwae_bound(vae, x: torch.Tensor, k: int = 100, generator: torch.Generator | None = None,
               chunk: int = 100) -> torch.Tensor:
    """Importance-weighted bound log (1/k) sum_i p(x, z_i) / q(z_i | x), per image (N,).

    Burda, Grosse & Salakhutdinov (2015): equals the ELBO for k = 1 and rises towards
    log p(x) as k grows, so it is a tighter estimate of the model's likelihood.
    """
    cfg = vae.config
    if not kind_of(cfg).has_sigma:
        raise ValueError(f"the importance-weighted bound needs a Gaussian q(z|x); a {cfg.kind!r} model has none")
    q = vae.posterior(x)                                         # over (N, D)
    n = x.shape[0]
    log_w = []
    for start in range(0, k, chunk):
        kk = min(chunk, k - start)
        z = q.sample(generator, n=kk)                            # (kk, N, D)
        logits = vae.decode_logits(z.reshape(kk * n, -1))        # (kk*N, C, H, W)
        xx = x.unsqueeze(0).expand(kk, *x.shape).reshape(kk * n, *x.shape[1:])
        log_px = -reconstruction_nll(logits, xx, cfg.recon, cfg.mse_sigma).view(kk, n)
        log_w.append(log_px + standard_normal_log_prob(z) - q.log_prob(z))                   # (kk, N)
    log_w = torch.cat(log_w, dim=0)
    return torch.logsumexp(log_w, dim=0) - math.log(k)
