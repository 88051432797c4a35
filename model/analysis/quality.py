"""How good a set of generated images is, as the field measures it: a Fréchet distance between feature
distributions, and precision and recall of the feature manifolds. Pure numpy and torch.

The features are the penultimate layer (128-D) of our small Fashion-MNIST classifier (model.nets.classifier,
shipped in weights/.classifier), not Inception-v3's pool3 layer. So "FID" here means "FID, Fashion-MNIST
features": it follows Heusel et al.'s formula, but its numbers are NOT comparable with Inception-FID figures
(e.g. those of Lucic et al. 2018 or Dai & Wipf 2019), only with each other. The classifier was trained with
an extra class of synthetic noise (outlier exposure; weights/.classifier/README.md says why).

- frechet_distance: Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter (2017), "GANs Trained by a Two
  Time-Scale Update Rule Converge to a Local Nash Equilibrium", eq. (6): the Fréchet distance between two
  Gaussians fitted to the features.
- precision_recall: Kynkäänniemi, Karras, Laine, Lehtinen & Aila (2019), "Improved Precision and Recall
  Metric for Assessing Generative Models", section 2: each set's manifold is the union of balls around its
  points, each ball reaching that point's k-th nearest neighbour in the same set. Precision: the share of
  generated images inside the data's manifold ("they look real"). Recall: the share of data images inside
  the generated images' manifold ("they cover the data").
"""
from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from ..nets.classifier import Classifier
from ..store.companions import load_classifier

SHIPPED_CLASSIFIER = Path(__file__).resolve().parents[2] / "weights" / ".classifier"
K = 3                         # neighbourhood size of the manifolds (Kynkäänniemi et al. use 3)
CHUNK = 1024                  # rows of a distance block: 1024 x 10,000 float32 is 41 MB


@functools.lru_cache(maxsize=2)
def classifier(directory: str | None = None) -> Classifier:
    """The classifier in `directory` (default: the shipped one), loaded once."""
    return load_classifier(directory or SHIPPED_CLASSIFIER)


@torch.inference_mode()
def features(images: np.ndarray, directory: str | None = None, batch: int = 500) -> np.ndarray:
    """uint8 (or [0, 1] float) images (N, C, H, W) of the classifier's size -> its penultimate features,
    float64 (N, F)."""
    net = classifier(directory)
    cfg = net.config
    x = np.asarray(images)
    want = (cfg.channels, cfg.image_size, cfg.image_size)
    if x.ndim != 4 or x.shape[1:] != want:
        raise ValueError(f"the quality measures take images shaped (N, {', '.join(map(str, want))}) "
                         f"(the classifier's input), not {x.shape}")
    out = []
    for i in range(0, len(x), batch):
        block = torch.from_numpy(np.ascontiguousarray(x[i:i + batch]))
        block = block.float().div_(255) if x.dtype == np.uint8 else block.float()
        out.append(net.features(block).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, cfg.features))


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) for Gaussians fitted to (N, F) features
    (Heusel et al. 2017, eq. 6). 0 for identical sets.

    Tr (S_a S_b)^(1/2) is computed as Tr (S_a^(1/2) S_b S_a^(1/2))^(1/2): the same eigenvalues, but of a
    symmetric positive semi-definite matrix, so eigh gives them real (the tiny imaginary parts that
    scipy.linalg.sqrtm(S_a @ S_b) can return never arise; rounding's tiny negative eigenvalues are clipped)."""
    a, b = np.asarray(feats_a, dtype=np.float64), np.asarray(feats_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two (N, F) feature sets with the same F and N >= 2, not {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _psd_sqrt(s_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ s_b @ root_a), 0, None)).sum()
    fid = float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * cross)
    return max(fid, 0.0)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """The symmetric square root of a positive semi-definite matrix (eigenvalues below 0 clipped)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _tensor(x: np.ndarray) -> torch.Tensor:
    """float32 for the distance blocks: twice as fast as float64, and its rounding (about 1e-7 of the
    squared norms) is far below the k-NN radii compared against."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _sq_distances(a: torch.Tensor, b: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances (len(a), len(b)); b2: the squared norms of b's rows."""
    return ((a * a).sum(1, keepdim=True) - 2 * a @ b.T + b2).clamp_(min=0)


def knn_radii(feats: np.ndarray, k: int = K, chunk: int = CHUNK) -> np.ndarray:
    """The squared distance from every point to its k-th nearest neighbour in the same set (itself not
    counted), float32 (N,): the radii of the balls whose union is the set's manifold."""
    x = _tensor(feats)
    if not 1 <= k < len(x):
        raise ValueError(f"k must lie in 1..{len(x) - 1} for {len(x)} points, not {k}")
    x2 = (x * x).sum(1)
    out = [_sq_distances(x[i:i + chunk], x, x2).topk(k + 1, dim=1, largest=False).values[:, k]   # itself: 0
           for i in range(0, len(x), chunk)]
    return torch.cat(out).numpy()


def manifold_coverage(real: np.ndarray, real_radii: np.ndarray, fake: np.ndarray, fake_radii: np.ndarray,
                      chunk: int = CHUNK) -> tuple[float, float]:
    """(precision, recall) given both sets' features and squared k-NN radii, from one chunked pass over
    the fake x real distances."""
    r, f, rr, fr = _tensor(real), _tensor(fake), _tensor(real_radii), _tensor(fake_radii)
    r2 = (r * r).sum(1)
    inside_real = torch.zeros(len(f), dtype=torch.bool)      # fake i lies in some real ball
    covered = torch.zeros(len(r), dtype=torch.bool)          # real j lies in some fake ball
    for i in range(0, len(f), chunk):
        d = _sq_distances(f[i:i + chunk], r, r2)                           # (chunk, N_real)
        inside_real[i:i + chunk] = (d <= rr[None, :]).any(1)
        covered |= (d <= fr[i:i + chunk, None]).any(0)
    return float(inside_real.double().mean()), float(covered.double().mean())


def precision_recall(real_feats: np.ndarray, fake_feats: np.ndarray, k: int = K) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of generated features against real ones,
    with k-NN manifolds (k = 3 as in the paper). Distances are computed in blocks of CHUNK rows, so 10,000
    x 10,000 sets need about 100 MB at a time."""
    return manifold_coverage(real_feats, knn_radii(real_feats, k), fake_feats, knn_radii(fake_feats, k))


_REFERENCES: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
_LOCK = threading.Lock()


def reference_stats(reference: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """(features, squared k-NN radii) of a reference image set, computed once per content (the last 4 kept)."""
    x = np.ascontiguousarray(reference)
    key = (hashlib.blake2b(x.tobytes(), digest_size=16).hexdigest(), x.shape, str(x.dtype), k)
    with _LOCK:
        if key in _REFERENCES:
            _REFERENCES.move_to_end(key)
            return _REFERENCES[key]
    feats = features(x)
    stats = (feats, knn_radii(feats, k))
    with _LOCK:
        _REFERENCES[key] = stats
        while len(_REFERENCES) > 4:
            _REFERENCES.popitem(last=False)
    return stats


def quality(images: np.ndarray, reference: np.ndarray, k: int = K) -> dict[str, float]:
    """{"fid", "precision", "recall"} of images against reference images (uint8 (N, 1, 28, 28), e.g. the
    Fashion-MNIST test set), on the classifier's features; the reference's features are cached. FID here is
    "FID, Fashion-MNIST features", not comparable to Inception-FID figures (see the module's docstring)."""
    real, real_radii = reference_stats(reference, k)
    fake = features(images)
    precision, recall = manifold_coverage(real, real_radii, fake, knn_radii(fake, k))
    return {"fid": frechet_distance(real, fake), "precision": precision, "recall": recall}
