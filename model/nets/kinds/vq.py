"""The VQ-VAE (van den Oord et al. 2017): the encoder keeps the bottleneck's grid, and the code at each
position snaps to its nearest entry of a learned codebook. q(z|x) is one-hot, so against a uniform prior its
KL is the constant groups * log K (their Sec. 3.1); it samples through a prior fitted over the codes."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..posterior import QuantizedCode
from . import ModelKind


class VectorQuantizer(nn.Module):
    """A codebook of K vectors of size code_dim; z (B, D) is cut into D / code_dim groups (one per
    position of the bottleneck grid) and each is replaced by its nearest code (van den Oord et al.
    2017, eq. 1)."""

    def __init__(self, cfg) -> None:
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


class CodebookKind(ModelKind):
    def validate(self, cfg) -> None:
        if cfg.codebook_size < 2 or cfg.code_dim < 1 or cfg.latent_dim != cfg.code_dim * cfg.bottleneck ** 2:
            raise ValueError(f"kind 'vq' needs codebook_size >= 2 and latent_dim = code_dim x bottleneck^2 "
                             f"(one code per position of the {cfg.bottleneck}x{cfg.bottleneck} grid: "
                             f"{cfg.code_dim * cfg.bottleneck ** 2}), got {cfg.latent_dim}")

    def make_quantizer(self, cfg) -> VectorQuantizer:
        return VectorQuantizer(cfg)

    def posterior(self, vae, h) -> QuantizedCode:
        return vae.quantizer(h)

    def prior_codes(self, vae, n: int, temperature: float, seed: int) -> torch.Tensor:
        """A grid of codes from the learned prior (a PixelCNN over the grid, as van den Oord et al. 2017 fitted;
        the temperature divides its logits), or, without one, one uniformly random code per group (the
        temperature does not apply)."""
        cfg, g = vae.config, torch.Generator().manual_seed(seed)
        if vae.code_prior is not None:
            idx = vae.code_prior.sample(n, g, temperature)
        else:
            idx = torch.randint(cfg.codebook_size, (n, cfg.groups), generator=g)
        return vae.quantizer.lookup(idx)

    def samples_caption(self, vae) -> str:
        return "codes from its PixelCNN prior" if vae.code_prior is not None else "random codes"


KIND = CodebookKind(
    name="vq", label="VQ-VAE", order=30, has_kl=True, has_likelihood=True, learned_prior=True, spatial=True,
    prior_scaled=False,
    about="a VQ-VAE: {c.groups} codes from a codebook of {c.codebook_size} (KL = {c.groups}·log {c.codebook_size} "
          "against a uniform prior; samples come from a PixelCNN prior over the codes when one ships)",
    compare_note=("The VQ-VAE reconstructs sharply, and samples through a learned prior", ": uniformly random "
                  "codes decode to noise, so its samples draw the 7×7 grid of codes one by one from a PixelCNN "
                  "(as van den Oord et al. 2017 did), which puts codes where the data puts them."),
    marker=("diamond", "#9333ea"),
)
