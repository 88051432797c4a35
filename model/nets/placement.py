"""Where a latent vector lands on the 2-D map of the test set: the map itself (embed_2d: the plane for a
2-D model, else UMAP or PCA of the test means, computed once at training) and the rule that places any
new z on it (MapIndex: k nearest test means, inverse-distance weighted). The page places the star by
the same rule with the same numbers (assets/place.js, ui/runtime.py)."""
from __future__ import annotations

import numpy as np


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


class MapIndex:
    """Puts new latent points on the stored 2-D map by k-nearest neighbours among the test-set
    means (inverse-distance weighted). Instant, unlike UMAP.transform, which JIT-compiles.

    Distances are sums of squares in float64 over the float32 means, added up dimension by dimension in
    the order the page adds them (assets/place.js), so both pick the same neighbours; torch.cdist's
    matrix-product shortcut would not (its rounding reorders near neighbours)."""

    k = 8                  # neighbours; sent to the page with the atlas (ui/runtime.py)
    eps = 1e-6             # keeps the weight of an exact match finite

    def __init__(self, means: np.ndarray, xy: np.ndarray, method: str) -> None:
        self.means = np.ascontiguousarray(means, dtype=np.float32)      # (N, D): what the page receives
        self.xy = np.asarray(xy, dtype=np.float32)
        self.method = method

    def neighbours(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(M, D) latent points -> the indices (M, k) of the k nearest test means, nearest first, and
        their distances (M, k)."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float32)).astype(np.float64)
        k = min(self.k, len(self.means))
        d2 = np.zeros((len(z), len(self.means)))                                    # (M, N)
        for j in range(self.means.shape[1]):                # one column at a time: no float64 copy of the means
            d2 += (self.means[:, j].astype(np.float64)[None, :] - z[:, j:j + 1]) ** 2
        idx = np.argpartition(d2, k - 1, axis=1)[:, :k]
        idx = np.take_along_axis(idx, np.take_along_axis(d2, idx, 1).argsort(1, kind="stable"), 1)
        return idx, np.sqrt(np.take_along_axis(d2, idx, 1))

    def place(self, z: np.ndarray) -> np.ndarray:
        """(M, D) latent points -> (M, 2) map coordinates."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        if self.method == "plane":
            return z[:, :2].copy()
        idx, dist = self.neighbours(z)
        w = 1.0 / (dist + self.eps)                                                   # (M, k)
        xy = (self.xy[idx].astype(np.float64) * w[..., None]).sum(1) / w.sum(1, keepdims=True)
        return xy.astype(np.float32)
