"""ConvVAE: a convolutional Variational Autoencoder (Kingma & Welling 2013).

The encoder predicts a diagonal Gaussian q(z|x) = N(mu, diag(exp(logvar))) rather than a point;
the decoder maps z back to per-pixel Bernoulli means (or Gaussian means for "mse").

Every model kind (model/nets/kinds/) shares every layer but the bottleneck: the kind says how wide the
encoder's output is, whether the code is a grid (a VQ-VAE keeps the bottleneck's grid, with no fully
connected layers), how that output becomes q(z|x), and whether there is an encoder at all (a GAN's
generator is this decoder alone).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import VAEConfig
from .kinds import kind_of
from .limits import ExplorerError
from .posterior import DiagonalGaussian, PointCode

NO_ENCODER = ("a GAN has no encoder: it cannot encode an image, so it has no reconstruction, no ELBO and no "
              "map of encoded images; its z can still be slid, sampled and interpolated")


def has_encoder(vae) -> bool:
    """Whether a model can encode an image: it was built with an encoder, as its kind says (a GAN's generator
    is a decoder only)."""
    return getattr(vae, "encoder", None) is not None


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
        self.spatial = kind_of(cfg).spatial
        if self.spatial:                                  # a VQ-VAE keeps the grid: one code per position
            self.out = nn.Conv2d(prev, cfg.code_dim, 1)
        else:
            self.fc = nn.Linear(prev * cfg.bottleneck ** 2, cfg.hidden)
            self.out = nn.Linear(cfg.hidden, kind_of(cfg).encoder_outputs * cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.conv(x))                          # (B, w[-1], b, b)
        if self.spatial:                                  # (B, b*b*e): each position's e numbers together
            return self.out(h).permute(0, 2, 3, 1).flatten(1)
        return self.out(F.silu(self.fc(h.flatten(1))))    # (B, 2D): mu, logvar; or (B, D): the code


class Decoder(nn.Module):
    """The mirror image: fully connected up to the bottleneck, then transposed convolutions
    double the size once per width, ending in one logit per pixel and channel."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        w = cfg.widths
        self.shape = (w[-1], cfg.bottleneck, cfg.bottleneck)
        self.grid = (cfg.bottleneck, cfg.bottleneck, cfg.code_dim) if kind_of(cfg).spatial else None
        if self.grid:                                     # the codes' grid, lifted back to the trunk's width
            self.fc = nn.Sequential(nn.Conv2d(cfg.code_dim, w[-1], 1), nn.SiLU())
        else:
            self.fc = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.hidden), nn.SiLU(),
                                    nn.Linear(cfg.hidden, w[-1] * cfg.bottleneck ** 2), nn.SiLU())
        layers: list[nn.Module] = [ResBlock(w[-1]) for _ in range(cfg.res_blocks)]
        for i in reversed(range(len(w))):
            out = w[i - 1] if i > 0 else cfg.channels
            layers += [nn.SiLU(), nn.ConvTranspose2d(w[i], out, 4, stride=2, padding=1)]
        self.conv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.grid:                                     # (B, b*b*e) -> (B, e, b, b)
            h = self.fc(z.reshape(-1, *self.grid).permute(0, 3, 1, 2))
        else:
            h = self.fc(z).view(-1, *self.shape)          # (B, w[-1], b, b)
        return self.conv(h)                               # (B, C, H, W) logits


class ConvVAE(nn.Module):
    """encode -> (mu, logvar); reparameterize; decode -> images in [0, 1]."""

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or VAEConfig()
        kind = kind_of(self.config)
        self.encoder = Encoder(self.config) if kind.has_encoder else None
        self.decoder = Decoder(self.config)
        self.quantizer = kind.make_quantizer(self.config)     # a VQ-VAE's codebook ("quantizer.codebook"), or None

    code_prior = None   # a learned prior over the code grid, for a kind with one (store.companions.attach_prior)

    @property
    def kind(self) -> str:
        return self.config.kind

    def posterior(self, x: torch.Tensor) -> DiagonalGaussian | PointCode:
        """x: (N, C, H, W) in [0, 1] -> q(z|x) over (N, D), as the kind reads the encoder's output: a diagonal
        Gaussian (VAE), a point (autoencoder) or a codebook entry per group (VQ-VAE). With no encoder (a GAN):
        a clear error."""
        if self.encoder is None:
            raise ExplorerError(NO_ENCODER)
        return kind_of(self.config).posterior(self, self.encoder(x))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (N, C, H, W) in [0, 1] -> mu, logvar: (N, D). logvar is clamped for stability.
        An autoencoder or VQ-VAE has no variance: logvar is None and mu is its code."""
        q = self.posterior(x)
        return q.mu, q.logvar

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor | None,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I) (see DiagonalGaussian.reparameterize); with no
        variance (logvar None: an autoencoder) z is mu itself."""
        return mu if logvar is None else DiagonalGaussian(mu, logvar).sample(generator)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid decoder output; the losses use it for numerically stable BCE."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, D) -> images (N, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """-> (decoder logits for one z ~ q(z|x), q(z|x)): what the losses need, in one call."""
        q = self.posterior(x)
        return self.decode_logits(q.sample(generator)), q
