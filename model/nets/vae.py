"""ConvVAE: a convolutional Variational Autoencoder (Kingma & Welling 2013).

The encoder predicts a diagonal Gaussian q(z|x) = N(mu, diag(exp(logvar))) rather than a point;
the decoder maps z back to per-pixel Bernoulli means (or Gaussian means for "mse").

The lab's other two kinds share every layer but the bottleneck (config.kind): "ae", the
traditional autoencoder, whose encoder gives one point z and no variance; and "vq", a VQ-VAE
(van den Oord et al. 2017), which keeps the bottleneck's grid (no fully connected layers) and
snaps the code at each position to its nearest entry of a learned codebook. A fourth, "gan", is a GAN's
generator (model/nets/gan.py): this decoder alone, trained against a discriminator, with no encoder.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import VAEConfig
from .limits import ExplorerError
from .posterior import DiagonalGaussian, PointCode, QuantizedCode

NO_ENCODER = ("a GAN has no encoder: it cannot encode an image, so it has no reconstruction, no ELBO and no "
              "map of encoded images; its z can still be slid, sampled and interpolated")


def has_encoder(vae) -> bool:
    """Whether a model can encode an image: every kind but a GAN's generator, which is a decoder only."""
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
        self.spatial = cfg.kind == "vq"
        if self.spatial:                                  # a VQ-VAE keeps the grid: one code per position
            self.out = nn.Conv2d(prev, cfg.code_dim, 1)
        else:
            self.fc = nn.Linear(prev * cfg.bottleneck ** 2, cfg.hidden)
            self.out = nn.Linear(cfg.hidden, (2 if cfg.kind == "vae" else 1) * cfg.latent_dim)

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
        self.grid = (cfg.bottleneck, cfg.bottleneck, cfg.code_dim) if cfg.kind == "vq" else None
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


class VectorQuantizer(nn.Module):
    """A codebook of K vectors of size code_dim; z (B, D) is cut into D / code_dim groups (one per
    position of the bottleneck grid) and each is replaced by its nearest code (van den Oord et al.
    2017, eq. 1)."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.codebook = nn.Parameter(torch.randn(cfg.codebook_size, cfg.code_dim) * 0.1)
        self.register_buffer("hits", torch.zeros(cfg.codebook_size), persistent=False)
        self.last_z_e: torch.Tensor | None = None

    def indices(self, z_e: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, groups): the nearest code of each group, by squared distance."""
        flat = z_e.reshape(-1, self.cfg.code_dim)                                  # (B*G, e)
        d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.t() + self.codebook.pow(2).sum(1)
        return d.argmin(1).view(z_e.shape[0], -1)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, groups) code indices -> z (B, D)."""
        return self.codebook[idx].flatten(1)

    def forward(self, z_e: torch.Tensor) -> QuantizedCode:
        idx = self.indices(z_e)
        if self.training:
            self.hits += torch.bincount(idx.flatten(), minlength=self.cfg.codebook_size).to(self.hits)
            self.last_z_e = z_e.detach()
        cfg = self.cfg
        return QuantizedCode(z_e, self.lookup(idx), cfg.groups, cfg.codebook_size, cfg.commitment)

    @torch.no_grad()
    def restart_unused(self, generator: torch.Generator | None = None) -> int:
        """Move every code no group picked since the last call onto a random recent encoder output,
        so the codebook does not collapse onto a few codes (a common VQ-VAE remedy). Returns how many."""
        dead = (self.hits == 0).nonzero().flatten()
        if len(dead) and self.last_z_e is not None:
            pool = self.last_z_e.reshape(-1, self.cfg.code_dim)
            pick = torch.randint(len(pool), (len(dead),), generator=generator, device=pool.device)
            self.codebook[dead] = pool[pick]
        self.hits.zero_()
        return len(dead)


class ConvVAE(nn.Module):
    """encode -> (mu, logvar); reparameterize; decode -> images in [0, 1]."""

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or VAEConfig()
        self.encoder = Encoder(self.config) if self.config.kind != "gan" else None
        self.decoder = Decoder(self.config)
        self.quantizer = VectorQuantizer(self.config) if self.config.kind == "vq" else None

    code_prior = None   # "vq": a learned prior over the code grid (model.store.companions.attach_prior), else None

    @property
    def kind(self) -> str:
        return self.config.kind

    def posterior(self, x: torch.Tensor) -> DiagonalGaussian | PointCode:
        """x: (N, C, H, W) in [0, 1] -> q(z|x) over (N, D): a diagonal Gaussian ("vae"), a point
        ("ae") or a codebook entry per group ("vq"). A GAN has no encoder: a clear error."""
        if self.encoder is None:
            raise ExplorerError(NO_ENCODER)
        h = self.encoder(x)
        if self.kind == "vae":
            return DiagonalGaussian(*h.chunk(2, dim=1))
        return PointCode(h) if self.kind == "ae" else self.quantizer(h)

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
