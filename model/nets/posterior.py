"""The encoder's output as one object: a diagonal Gaussian q(z|x) = N(mu, diag(exp(logvar))).

Training, evaluation and the explorer all sample, score and summarise posteriors through this
class, so each formula is written once (in the manner of diffusers' DiagonalGaussianDistribution).
"""
from __future__ import annotations

import math

import numpy as np
import torch

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0   # the clamp diffusers' AutoencoderKL uses
ACTIVE_THRESHOLD = 0.01                # Burda et al. (2015): Cov_x(E_q[z_d]) above this is "active"


class DiagonalGaussian:
    """mu, logvar: (..., D). logvar is clamped so exp() neither overflows nor underflows."""

    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor) -> None:
        self.mu = mu
        self.logvar = logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def mode(self) -> torch.Tensor:
        """The most likely z: the mean (what the map, interpolation and "Send μ" use)."""
        return self.mu

    def noise(self, generator: torch.Generator | None = None, n: int | None = None) -> torch.Tensor:
        """eps ~ N(0, I) shaped like mu, or (n, *mu.shape) for n draws per posterior."""
        shape = self.mu.shape if n is None else (n, *self.mu.shape)
        return torch.randn(shape, generator=generator, device=self.mu.device, dtype=self.mu.dtype)

    def reparameterize(self, eps: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps: the sample is a differentiable function of (mu, logvar), so gradients
        flow into the encoder while the randomness sits in eps (Kingma & Welling 2013, Sec. 2.4)."""
        return self.mu + self.std * eps

    def sample(self, generator: torch.Generator | None = None, n: int | None = None) -> torch.Tensor:
        return self.reparameterize(self.noise(generator, n))

    def kl_per_dim(self) -> torch.Tensor:
        """Closed-form KL(N(mu, sigma^2) || N(0, 1)) per dimension, shaped like mu.

        Appendix B of Kingma & Welling: -KL = 1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2).
        """
        return 0.5 * (self.mu.pow(2) + self.logvar.exp() - 1.0 - self.logvar)

    def kl(self) -> torch.Tensor:
        """KL(q(z|x) || N(0, I)) per posterior, summed over the last (latent) dimension."""
        return self.kl_per_dim().sum(dim=-1)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|x), summed over the latent dimension; z broadcasts against mu."""
        return -0.5 * (math.log(2 * math.pi) + self.logvar + (z - self.mu).pow(2) / self.logvar.exp()).sum(-1)

    def penalty(self) -> torch.Tensor:
        """Extra training loss beside recon + beta * KL: none for a Gaussian."""
        return torch.zeros(self.mu.shape[:-1], device=self.mu.device)


class PointCode:
    """A plain autoencoder's code: z = encoder(x), one point with no spread. There is no sigma
    (logvar is None, not a made-up number) and no KL: a deterministic continuous code against
    N(0, I) has no finite rate, so the ELBO is undefined and the codes need not look like the prior."""

    logvar = None
    std = None

    def __init__(self, mu: torch.Tensor) -> None:
        self.mu = mu

    def mode(self) -> torch.Tensor:
        return self.mu

    def sample(self, generator: torch.Generator | None = None, n: int | None = None) -> torch.Tensor:
        """No noise to draw: every "sample" is the code itself."""
        return self.mu if n is None else self.mu.expand(n, *self.mu.shape)

    def kl(self) -> None:
        return None

    def penalty(self) -> torch.Tensor:
        return torch.zeros(self.mu.shape[:-1], device=self.mu.device)


class QuantizedCode(PointCode):
    """VQ-VAE's code (van den Oord et al. 2017): each group of z snaps to its nearest codebook
    vector. q(z|x) is one-hot, so against a uniform prior over K codes per group the KL is the
    constant groups * log K (their Sec. 3.1). mu is z_q in value, but its gradient passes straight
    through to the encoder's output z_e (the straight-through estimator, their eq. 3)."""

    def __init__(self, z_e: torch.Tensor, z_q: torch.Tensor, groups: int, codebook_size: int,
                 commitment: float) -> None:
        super().__init__(z_e + (z_q - z_e).detach())
        self.z_e, self.z_q = z_e, z_q
        self.groups, self.codebook_size, self.commitment = groups, codebook_size, commitment

    def kl(self) -> torch.Tensor:
        return torch.full(self.mu.shape[:-1], self.groups * math.log(self.codebook_size), device=self.mu.device)

    def penalty(self) -> torch.Tensor:
        """Codebook loss ||sg[z_e] - e||^2 moves the codes; commitment ||z_e - sg[e]||^2 keeps the
        encoder near them (eq. 3), per image."""
        codebook = (self.z_q - self.z_e.detach()).pow(2).sum(-1)
        commit = (self.z_e - self.z_q.detach()).pow(2).sum(-1)
        return codebook + self.commitment * commit


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log p(z) under the prior N(0, I), summed over the last dimension."""
    return -0.5 * (math.log(2 * math.pi) + z.pow(2)).sum(-1)


def active_units(means: np.ndarray, threshold: float = ACTIVE_THRESHOLD) -> np.ndarray:
    """Which latent dimensions the model uses, as a bool mask (D,): a dimension is active when its
    posterior mean varies across the data, Var_x(E_q[z_d]) > 0.01 (Burda et al. 2015). An inactive
    one has collapsed onto the prior: every image gets the same mean there and the decoder ignores it.
    The one definition of "active" for the page, evaluate and the README."""
    means = np.asarray(means, dtype=np.float64)
    return means.var(axis=0, ddof=1 if len(means) > 1 else 0) > threshold
