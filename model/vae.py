"""ConvVAE: a convolutional Variational Autoencoder (Kingma & Welling 2013).

The encoder predicts a diagonal Gaussian q(z|x) = N(mu, diag(exp(logvar))) rather than a point;
the decoder maps z back to per-pixel Bernoulli means (or Gaussian means for "mse").
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import VAEConfig
from .posterior import DiagonalGaussian


class ResBlock(nn.Module):
    """x + conv(act(conv(act(x)))): keeps gradients flowing through a deeper network."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class Encoder(nn.Module):
    """Stride-2 convolutions halve the image once per width; residual blocks work at the
    bottleneck, where they are cheap (7x7 for 28x28 input)."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = cfg.channels
        for width in cfg.widths:
            layers += [nn.Conv2d(prev, width, 4, stride=2, padding=1), nn.SiLU()]
            prev = width
        layers += [ResBlock(prev) for _ in range(cfg.res_blocks)]
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Linear(prev * cfg.bottleneck ** 2, cfg.hidden)
        self.out = nn.Linear(cfg.hidden, 2 * cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.silu(self.conv(x)).flatten(1)               # (B, w[-1] * b * b)
        mu, logvar = self.out(F.silu(self.fc(h))).chunk(2, dim=1)   # (B, D) each
        return mu, logvar


class Decoder(nn.Module):
    """The mirror image: fully connected up to the bottleneck, then transposed convolutions
    double the size once per width, ending in one logit per pixel and channel."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        w = cfg.widths
        self.shape = (w[-1], cfg.bottleneck, cfg.bottleneck)
        self.fc = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.hidden), nn.SiLU(),
                                nn.Linear(cfg.hidden, w[-1] * cfg.bottleneck ** 2), nn.SiLU())
        layers: list[nn.Module] = [ResBlock(w[-1]) for _ in range(cfg.res_blocks)]
        for i in reversed(range(len(w))):
            out = w[i - 1] if i > 0 else cfg.channels
            layers += [nn.SiLU(), nn.ConvTranspose2d(w[i], out, 4, stride=2, padding=1)]
        self.conv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, *self.shape)              # (B, w[-1], b, b)
        return self.conv(h)                               # (B, C, H, W) logits


class ConvVAE(nn.Module):
    """encode -> (mu, logvar); reparameterize; decode -> images in [0, 1]."""

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or VAEConfig()
        self.encoder = Encoder(self.config)
        self.decoder = Decoder(self.config)

    def posterior(self, x: torch.Tensor) -> DiagonalGaussian:
        """x: (N, C, H, W) in [0, 1] -> q(z|x), a diagonal Gaussian over (N, D)."""
        mu, logvar = self.encoder(x)
        return DiagonalGaussian(mu, logvar)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (N, C, H, W) in [0, 1] -> mu, logvar: (N, D). logvar is clamped for stability."""
        q = self.posterior(x)
        return q.mu, q.logvar

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I) (see DiagonalGaussian.reparameterize)."""
        return DiagonalGaussian(mu, logvar).sample(generator)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid decoder output; the losses use it for numerically stable BCE."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, D) -> images (N, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        return self.decode_logits(z), mu, logvar
