"""A GAN whose generator is our decoder: the same network that turns a VAE's z into an image, trained
instead against a critic (Goodfellow et al. 2014), so that its samples can be set beside the VAE's.

Generator: model.nets.vae.Decoder built from a VAEConfig (z -> one logit per pixel), followed by a sigmoid
as ConvVAE.decode does, so its images lie in [0, 1] and its weights load into a ConvVAE's decoder (the
state keys are the same, "decoder.*"). Discriminator: DCGAN-style (Radford et al. 2015) stride-2
convolutions with LeakyReLU(0.2) and one linear output, with no batch normalisation (the gradient
penalty is taken per sample; Gulrajani et al. 2017, section 4); spectral normalisation (Miyato et al.
2018) optionally, for the non-saturating loss.

Losses: WGAN-GP (Gulrajani et al. 2017, Algorithm 1) and the non-saturating loss (Goodfellow et al. 2014,
section 3), each as the critic's and the generator's loss for one batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import VAEConfig, from_known_keys
from .kinds import kind_of
from .vae import Decoder

GAN_LOSSES = ("wgan-gp", "ns")


@dataclass(frozen=True)
class GANConfig:
    """The generator's VAEConfig (only its decoder half is built) and the discriminator's shape."""

    generator: VAEConfig = field(default_factory=VAEConfig)
    disc_widths: tuple[int, ...] = (64, 128, 256)   # channels per stride-2 convolution
    spectral_norm: bool = False                       # on every discriminator layer (for loss "ns")
    loss: str = "wgan-gp"                             # "wgan-gp" or "ns" (non-saturating)

    def __post_init__(self) -> None:
        if isinstance(self.generator, dict):
            object.__setattr__(self, "generator", VAEConfig.from_dict(self.generator))
        object.__setattr__(self, "disc_widths", tuple(int(w) for w in self.disc_widths))
        if not self.disc_widths or any(w < 1 for w in self.disc_widths):
            raise ValueError(f"disc_widths must be positive, got {self.disc_widths}")
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"loss must be one of {GAN_LOSSES}, got {self.loss!r}")
        if kind_of(self.generator).spatial:
            raise ValueError("the generator is a flat decoder (z -> image): build it from a VAEConfig whose kind "
                             "has no code grid, such as 'vae'")

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    def to_dict(self) -> dict:
        return {"generator": self.generator.to_dict(), "disc_widths": list(self.disc_widths),
                "spectral_norm": self.spectral_norm, "loss": self.loss}

    @classmethod
    def from_dict(cls, d: dict) -> GANConfig:
        return from_known_keys(cls, d, "GAN config")


class Generator(nn.Module):
    """z (B, D) -> images (B, C, H, W) in [0, 1]: our Decoder, then a sigmoid (as ConvVAE.decode)."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.config = cfg
        self.decoder = Decoder(cfg)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))


class Discriminator(nn.Module):
    """images (B, C, H, W) in [0, 1] -> one score each (B,): a logit ("ns") or a critic value ("wgan-gp")."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        norm = nn.utils.parametrizations.spectral_norm if cfg.spectral_norm else (lambda m: m)
        layers: list[nn.Module] = []
        prev, size = cfg.generator.channels, cfg.generator.image_size
        for width in cfg.disc_widths:
            layers += [norm(nn.Conv2d(prev, width, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            prev, size = width, size // 2
        self.conv = nn.Sequential(*layers)
        self.out = norm(nn.Linear(prev * size * size, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x * 2 - 1)                          # (B, w[-1], s, s); inputs centred on 0
        return self.out(h.flatten(1)).squeeze(1)


def gradient_penalty(disc: Discriminator, real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """E[(||grad D(x_hat)||_2 - 1)^2] at x_hat uniformly on lines between real and fake samples
    (Gulrajani et al. 2017, eq. 3): keeps the critic close to 1-Lipschitz."""
    eps = torch.rand(real.shape[0], 1, 1, 1, generator=generator, device=real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(disc(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def critic_loss(cfg: GANConfig, disc: Discriminator, real: torch.Tensor, fake: torch.Tensor,
                gp_weight: float = 10.0, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The discriminator's loss for one batch ("loss"), with what the log shows. fake: detached samples.

    wgan-gp: D(fake) - D(real) + lambda * GP; "wasserstein" = E D(real) - E D(fake), the critic's estimate
    of the distance, which falls as the generator improves. ns: binary cross-entropy, real 1, fake 0."""
    d_real, d_fake = disc(real), disc(fake)
    if cfg.loss == "wgan-gp":
        gp = gradient_penalty(disc, real, fake, generator)
        w = d_real.mean() - d_fake.mean()
        return {"loss": -w + gp_weight * gp, "wasserstein": w.detach(), "gp": gp.detach()}
    loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    return {"loss": loss, "d_real": torch.sigmoid(d_real).mean().detach(),
            "d_fake": torch.sigmoid(d_fake).mean().detach()}


def generator_loss(cfg: GANConfig, disc: Discriminator, fake: torch.Tensor) -> torch.Tensor:
    """wgan-gp: -E D(G(z)); ns: -E log sigmoid(D(G(z))), the non-saturating loss."""
    score = disc(fake)
    return -score.mean() if cfg.loss == "wgan-gp" else F.softplus(-score).mean()
