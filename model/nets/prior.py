"""A learned prior over a VQ-VAE's grid of code indices: a small gated PixelCNN.

A VQ-VAE (van den Oord et al. 2017) samples by drawing a grid of code indices from a prior and decoding
the codes; uniformly random indices decode to noise. The prior here is the gated PixelCNN of van den Oord
et al. 2016 (*Conditional Image Generation with PixelCNN Decoders*): p(c) = prod_i p(c_i | c_<i) in raster
order over the bottleneck grid (7x7 for 28x28 images), each factor a softmax over the K codebook entries.

Two stacks keep it causal without a blind spot: the vertical stack sees every row above the current one
(all columns), the horizontal stack the positions to the left on the current row; each layer is a gated
activation tanh(a) * sigmoid(b). The first layer shifts its inputs (down one row, right one column) so
that no position sees its own index; later layers may see their own position's features, which by then
hold only earlier positions' information. A learned bias per position and layer (the paper's
location-dependent conditioning) lets the model know where it is on the small grid.

Indices are laid out as VectorQuantizer.indices gives them: (B, H*W), position r*W + c, raster order;
`quantizer.lookup(idx)` turns them into the z (B, H*W*code_dim) that the decoder takes.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import from_known_keys

PRIOR_CONFIG_NAME = "prior.json"
PRIOR_WEIGHTS_NAME = "prior.safetensors"


@dataclass(frozen=True)
class PriorConfig:
    """Everything needed to rebuild a PixelCNNPrior; typed fields become prior.json."""

    grid: int = 7                # the code grid is grid x grid (the VQ-VAE's bottleneck)
    codebook_size: int = 256     # K: tokens per position
    channels: int = 64           # width of both stacks
    layers: int = 8              # gated layers (the first one is causal-shifted, "mask A")
    kernel: int = 3              # odd; the first layer uses first_kernel
    first_kernel: int = 7        # the first layer's kernel: sees a wide context at once
    embed_dim: int = 64          # size of each index's learned embedding

    def __post_init__(self) -> None:
        if self.grid < 1 or self.codebook_size < 2 or self.channels < 1 or self.layers < 1 or self.embed_dim < 1:
            raise ValueError(f"PriorConfig needs positive sizes and codebook_size >= 2: {self}")
        if self.kernel % 2 == 0 or self.first_kernel % 2 == 0:
            raise ValueError(f"kernels must be odd, got {self.kernel} and {self.first_kernel}")

    @property
    def positions(self) -> int:
        return self.grid * self.grid

    def uniform_nll(self) -> float:
        """The uniform prior's cost of one grid, in nats: H*W*log K (271.7 for 7x7 and K = 256)."""
        return self.positions * math.log(self.codebook_size)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PriorConfig:
        return from_known_keys(cls, d, "prior config")


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W): row r now holds row r-1 (row 0 zeros)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]


def shift_right(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W): column c now holds column c-1 (column 0 zeros)."""
    return F.pad(x, (1, 0, 0, 0))[:, :, :, :-1]


def gate(x: torch.Tensor) -> torch.Tensor:
    """The gated activation unit, tanh(a) * sigmoid(b) (van den Oord et al. 2016, eq. 2)."""
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    """One layer of both stacks. Vertical: a (k//2 + 1) x k convolution padded so that output row r sees
    input rows r - k//2 .. r. Horizontal: a 1 x (k//2 + 1) convolution seeing columns c - k//2 .. c of its
    own row, plus the vertical features of the same position (which by construction hold rows above only).
    first=True: the inputs are shifted (vertical down one row, horizontal right one column) and the
    horizontal stack has no residual connection, so no position sees its own index."""

    def __init__(self, cfg: PriorConfig, first: bool) -> None:
        super().__init__()
        c_in = cfg.embed_dim if first else cfg.channels
        c, k = cfg.channels, cfg.first_kernel if first else cfg.kernel
        self.first, self.half = first, k // 2
        self.v_conv = nn.Conv2d(c_in, 2 * c, (self.half + 1, k))
        self.h_conv = nn.Conv2d(c_in, 2 * c, (1, self.half + 1))
        self.v_to_h = nn.Conv2d(2 * c, 2 * c, 1)
        self.h_out = nn.Conv2d(c, c, 1)
        self.where = nn.Parameter(torch.zeros(2, 2 * c, cfg.grid, cfg.grid))   # per-position bias: v, h

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.first:
            v, h_in = shift_down(v), shift_right(h)
        else:
            h_in = h
        k = self.half
        v_feat = self.v_conv(F.pad(v, (k, k, k, 0)))                # (B, 2c, H, W): rows <= r of v
        h_feat = self.h_conv(F.pad(h_in, (k, 0, 0, 0)))             # (B, 2c, H, W): columns <= c of h_in
        where = self.where[:, :, :v.shape[-2]]                       # the rows given (sampling crops them)
        v_out = gate(v_feat + where[0])
        h_act = gate(h_feat + self.v_to_h(v_feat) + where[1])
        h_out = self.h_out(h_act)
        return v_out, h_out if self.first else h + h_out


class PixelCNNPrior(nn.Module):
    """p(indices) over a grid of code indices; log_prob for training and evaluation, sample to draw."""

    def __init__(self, config: PriorConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or PriorConfig()
        self.embed = nn.Embedding(cfg.codebook_size, cfg.embed_dim)
        self.layers = nn.ModuleList(GatedLayer(cfg, first=i == 0) for i in range(cfg.layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(cfg.channels, cfg.channels, 1), nn.ReLU(),
                                  nn.Conv2d(cfg.channels, cfg.codebook_size, 1))

    def grid_of(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, H*W) or (B, H, W) -> (B, H, W) long, checked."""
        g = self.config.grid
        idx = indices.reshape(indices.shape[0], g, g).long()
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.config.codebook_size):
            raise ValueError(f"indices must lie in 0..{self.config.codebook_size - 1}")
        return idx

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, H*W) indices -> logits (B, K, H, W); the logits at a position depend only on earlier ones."""
        return self._logits(self.grid_of(indices))

    def _logits(self, grid: torch.Tensor) -> torch.Tensor:
        """(B, R, W) indices of the first R rows -> logits (B, K, R, W): row r depends only on rows <= r,
        so a sampler that is filling row r need not run the rows below it."""
        x = self.embed(grid).permute(0, 3, 1, 2)                    # (B, e, R, W)
        v = h = x
        for layer in self.layers:
            v, h = layer(v, h)
        return self.head(h)                                          # (B, K, H, W)

    def log_prob(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, H*W) -> log p(indices) per grid, in nats: (B,)."""
        idx = self.grid_of(indices)
        nll = F.cross_entropy(self(idx), idx, reduction="none")     # (B, H, W)
        return -nll.flatten(1).sum(1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """n grids of indices, (n, H*W) long, drawn one position at a time in raster order from
        softmax(logits / temperature); temperature 0 takes the most likely index (greedy)."""
        g, dev = self.config.grid, next(self.parameters()).device
        idx = torch.zeros(n, g * g, dtype=torch.long, device=dev)
        for pos in range(g * g):
            row, col = divmod(pos, g)
            logits = self._logits(idx[:, :(row + 1) * g].view(n, row + 1, g))[:, :, row, col]    # (n, K)
            if temperature <= 0:
                idx[:, pos] = logits.argmax(1)
            else:
                probs = F.softmax(logits.float() / temperature, dim=1)
                idx[:, pos] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        return idx
