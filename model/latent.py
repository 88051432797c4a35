"""Walking the latent space: interpolation, sampling, traversals, and placing points on the map."""
from __future__ import annotations

import numpy as np
import torch


def embed_2d(means: np.ndarray, method: str = "auto", seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D coordinates of the posterior means for the map: the plane itself for a 2-D latent,
    else UMAP (McInnes et al. 2018) or PCA. umap is imported here only: it is slow to import."""
    d = means.shape[1]
    if d == 2 and method in ("auto", "plane"):
        return means.astype(np.float32), "plane"
    if d == 1:
        return np.stack([means[:, 0], np.zeros(len(means))], 1).astype(np.float32), "line"
    if method in ("auto", "umap"):
        import umap  # noqa: PLC0415  (slow import, kept off the start-up path)

        reducer = umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1, random_state=seed)
        return reducer.fit_transform(means).astype(np.float32), "umap"
    centred = means - means.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return (centred @ vt[:2].T).astype(np.float32), "pca"


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight line: (1 - t) z0 + t z1. Midpoints fall inside the prior's shell (smaller |z|)."""
    t = t.view(-1, 1)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016, "Sampling Generative Networks"):
    follows the great circle, so |z| stays near the typical radius sqrt(D) of N(0, I)."""
    t = t.view(-1, 1)
    n0, n1 = z0.norm(), z1.norm()
    if n0 < 1e-8 or n1 < 1e-8:
        return lerp(z0, z1, t.view(-1))
    cos = torch.clamp((z0 @ z1) / (n0 * n1), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:                         # nearly parallel: slerp -> lerp
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


def traverse(z: torch.Tensor, dim: int, values: torch.Tensor) -> torch.Tensor:
    """Copies of z with one coordinate swept over values: (len(values), D)."""
    out = z.unsqueeze(0).repeat(len(values), 1)
    out[:, dim] = values
    return out


def typical_radius(dim: int) -> float:
    """E|z| for z ~ N(0, I_D) is close to sqrt(D): the prior's mass lives on a thin shell."""
    return float(np.sqrt(max(dim - 0.5, 0.5)))


class MapIndex:
    """Puts new latent points on the stored 2-D map by k-nearest neighbours among the test-set
    means (inverse-distance weighted). Instant, unlike UMAP.transform, which JIT-compiles."""

    k = 8                  # neighbours; the page's assets/place.js uses the same rule and numbers
    eps = 1e-6             # keeps the weight of an exact match finite

    def __init__(self, means: np.ndarray, xy: np.ndarray, method: str) -> None:
        self.means = torch.from_numpy(np.ascontiguousarray(means, dtype=np.float32))
        self.xy = np.asarray(xy, dtype=np.float32)
        self.method = method

    def place(self, z: np.ndarray) -> np.ndarray:
        """(M, D) latent points -> (M, 2) map coordinates."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        if self.method == "plane":
            return z[:, :2].copy()
        d = torch.cdist(torch.from_numpy(z), self.means)              # (M, N)
        k = min(self.k, self.means.shape[0])
        dist, idx = d.topk(k, largest=False)
        w = 1.0 / (dist.numpy() + self.eps)
        w /= w.sum(1, keepdims=True)
        return (self.xy[idx.numpy()] * w[..., None]).sum(1)
