"""Moving through the latent space: interpolation (lerp, slerp), draws from the prior, traversals of one
dimension and attribute arithmetic. The page applies the same rules (assets/latent.js), with the numbers
sent from here (ui/runtime.py: page_rules)."""
from __future__ import annotations

import numpy as np
import torch

from .kinds import kind_of

TRAVERSAL = (-3.0, 3.0, 9)       # a traversal sweeps one dimension from -3 to +3 in 9 steps (the page's strip)
SLERP_MIN_NORM = 1e-8            # slerp falls back to lerp when an end is (nearly) the origin ...
SLERP_MIN_ANGLE = 1e-4           # ... or the two ends are (nearly) parallel: the great circle is undefined


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight line: (1 - t) z0 + t z1. Midpoints fall inside the prior's shell (smaller |z|)."""
    t = t.view(-1, 1)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016, "Sampling Generative Networks"):
    follows the great circle, so |z| stays near the typical radius sqrt(D) of N(0, I)."""
    t = t.view(-1, 1)
    n0, n1 = z0.norm(), z1.norm()
    if n0 < SLERP_MIN_NORM or n1 < SLERP_MIN_NORM:
        return lerp(z0, z1, t.view(-1))
    cos = torch.clamp((z0 @ z1) / (n0 * n1), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < SLERP_MIN_ANGLE:             # nearly parallel: slerp -> lerp
        return lerp(z0, z1, t.view(-1))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * z0 + (torch.sin(t * omega) / so) * z1


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "linear") -> torch.Tensor:
    """steps points from z0 to z1, both ends included: (steps, D)."""
    t = torch.linspace(0, 1, steps, dtype=z0.dtype)
    if method == "linear":
        return lerp(z0, z1, t)
    if method == "spherical":
        return slerp(z0, z1, t)
    raise ValueError(f"method must be 'linear' or 'spherical', got {method!r}")


def sample_prior(n: int, dim: int, temperature: float = 1.0, seed: int = 0) -> torch.Tensor:
    """n draws from N(0, T^2 I); the same seed gives the same draws on every machine (CPU RNG)."""
    gen = torch.Generator().manual_seed(int(seed))
    return temperature * torch.randn((n, dim), generator=gen)


def traversal_values() -> list[float]:
    """The values one coordinate takes in a traversal (TRAVERSAL): what that dimension controls. The page
    sweeps exactly these (ui/runtime.py sends them)."""
    lo, hi, steps = TRAVERSAL
    return np.linspace(lo, hi, steps).tolist()


def typical_radius(dim: int) -> float:
    """E|z| for z ~ N(0, I_D) is close to sqrt(D): the prior's mass lives on a thin shell."""
    return float(np.sqrt(max(dim - 0.5, 0.5)))


def add_attribute(z: np.ndarray, vector: np.ndarray, amount: float) -> np.ndarray:
    """z + amount * v (White 2016): the whole of the attribute arithmetic."""
    return (np.asarray(z, dtype=np.float32) + np.float32(amount) * vector).astype(np.float32)


@torch.inference_mode()
def prior_draws(vae, n: int, temperature: float, seed: int) -> torch.Tensor:
    """n latent vectors (n, D) drawn the way the page samples this model: z ~ N(0, T^2 I); for a kind
    with a learned prior (a VQ-VAE), through that prior (ModelKind.prior_codes)."""
    kind = kind_of(vae)
    if kind.learned_prior:
        return kind.prior_codes(vae, n, temperature, seed)
    return sample_prior(n, vae.config.latent_dim, temperature, seed)
