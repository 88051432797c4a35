"""What did a faces model learn? Scores against the data set's known factors, and how close its prior
samples come to real faces.

    python -m model disentangle weights/faces weights/faces-beta4      # adds them to metrics.json

- |corr|: the absolute Pearson correlation of each dimension's mean mu_j with each factor v_k.
- MI: the mutual information I(mu_j; v_k) in nats, both discretised into 20 equal-width bins
  (as in Locatello et al.'s disentanglement_lib).
- MIG, the Mutual Information Gap (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs",
  eq. 6): per factor, the gap between the two dimensions that know most about it, over the factor's
  entropy, averaged over factors. 1: each factor lives in one dimension alone; 0: spread or absent.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ..cli import run
from ..data import DataError, load_faces
from ..nets.walk import sample_prior
from ..store.weights import WeightsError, load_atlas, load_vae, write_metrics
from .sample_quality import nearest_distances

BINS = 20
N_SAMPLES, N_REFERENCE = 256, 2000          # prior samples, and test faces they are measured against


def discretise(x: np.ndarray, bins: int = BINS) -> np.ndarray:
    """(N, K) -> (N, K) int bin index per column, equal-width bins over each column's range."""
    out = np.empty(x.shape, dtype=np.int64)
    for k in range(x.shape[1]):
        edges = np.histogram_bin_edges(x[:, k], bins=bins)
        out[:, k] = np.digitize(x[:, k], edges[1:-1])
    return out


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats for two integer label arrays (plug-in estimate from the joint histogram)."""
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1)
    p = joint / joint.sum()
    pa, pb = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (pa @ pb)[nz])).sum())


def mi_matrix(mu: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """(F, D): I(mu_j; v_k) for every factor k and dimension j."""
    dz, dv = discretise(mu), discretise(factors)
    return np.array([[mutual_information(dz[:, j], dv[:, k]) for j in range(mu.shape[1])]
                     for k in range(factors.shape[1])])


def abs_corr(mu: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """(F, D): |Pearson correlation| of each factor with each dimension's mean (0 for a constant one)."""
    zc, vc = mu - mu.mean(0), factors - factors.mean(0)
    denom = np.outer(np.sqrt((vc ** 2).sum(0)), np.sqrt((zc ** 2).sum(0)))
    return np.abs(np.divide(vc.T @ zc, denom, out=np.zeros(denom.shape), where=denom > 0))


def mig(mi: np.ndarray, factors: np.ndarray) -> tuple[float, np.ndarray]:
    """(MIG, per-factor gaps) from an (F, D) MI matrix and the factors it was measured against."""
    dv = discretise(factors)
    entropy = np.array([mutual_information(dv[:, k], dv[:, k]) for k in range(factors.shape[1])])
    top = np.sort(mi, axis=1)[:, ::-1]
    second = top[:, 1] if mi.shape[1] > 1 else np.zeros(len(mi))
    gaps = (top[:, 0] - second) / entropy
    return float(gaps.mean()), gaps


def scores(mu: np.ndarray, factors: np.ndarray, names) -> dict:
    """Everything the page and README show for one model, JSON-ready."""
    mi = mi_matrix(mu, factors)
    total, gaps = mig(mi, factors)
    return {"mig": round(total, 4), "mig_per_factor": {n: round(float(g), 4) for n, g in zip(names, gaps, strict=True)},
            "factor_names": list(names), "factor_abs_corr": np.round(abs_corr(mu, factors), 4).tolist(),
            "factor_mi": np.round(mi, 4).tolist()}


@torch.inference_mode()
def prior_distance_ratio(vae, test_images: np.ndarray, seed: int = 0) -> dict:
    """How far prior samples (decoded means at T = 1) lie from real faces, against how far test faces lie
    from each other: median nearest-neighbour distance of N_SAMPLES samples to N_REFERENCE test faces, over
    the same for N_SAMPLES other test faces. About 1: samples sit among the data; much more: off it."""
    reference, held_out = test_images[:N_REFERENCE], test_images[N_REFERENCE:N_REFERENCE + N_SAMPLES]
    z = sample_prior(N_SAMPLES, vae.config.latent_dim, 1.0, seed)
    samples = torch.cat([vae.decode(z[i:i + 64]) for i in range(0, N_SAMPLES, 64)]).numpy()
    d_samples, d_test = (float(np.median(nearest_distances(q, reference))) for q in (samples, held_out))
    return {"prior_nn_distance": round(d_samples, 3), "test_nn_distance": round(d_test, 3),
            "prior_distance_ratio": round(d_samples / d_test, 3)}


def update(folder, test) -> str:
    """Measure one faces model against the test set, add the scores to its metrics.json; one line."""
    mu = load_atlas(folder)["mu"]
    if len(mu) != len(test):
        raise DataError(f"{folder}: its atlas holds {len(mu)} means, the faces test set {len(test)}")
    vae = load_vae(folder)
    found = scores(mu, test.factors, test.factor_names) | prior_distance_ratio(vae, test.images)
    found["description"] = (f"flat-design faces with {len(test.factor_names)} known factors, "
                            f"β = {vae.config.beta:g}: MIG {found['mig']:.2f}")
    write_metrics(Path(folder), found)
    return (f"{folder}: prior-sample distance ratio {found['prior_distance_ratio']:.3f}, MIG {found['mig']:.3f}  "
            + " ".join(f"{n} {g:.2f}" for n, g in found["mig_per_factor"].items()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m model disentangle", description=__doc__.splitlines()[0])
    p.add_argument("weights", nargs="+", help="faces weights folders, e.g. weights/faces weights/faces-beta4")
    p.add_argument("--data-dir", default=None, help="the folder with the faces' train.npz/test.npz")
    args = p.parse_args(argv)

    def measure_all() -> str:
        test = load_faces("test", args.data_dir)             # once, for every folder
        return "\n".join(update(f, test) for f in args.weights)
    return run(measure_all, WeightsError, DataError)
