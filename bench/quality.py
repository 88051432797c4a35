"""Sample quality, side by side: FID, precision, recall and sharpness of every model's samples.

    python bench/quality.py [--n 10000] [--models fashion-mnist,fashion-mnist-vq] [--json quality.json]

For N samples of each model (prior draws at temperature T, decoded) against the Fashion-MNIST test set:
- FID, Fashion-MNIST features: the Fréchet distance (Heusel et al. 2017) between Gaussians fitted to the
  penultimate features of our classifier (weights/.classifier). NOT comparable to Inception-FID figures.
- precision and recall, k = 3 (Kynkäänniemi et al. 2019): the share of samples inside the test set's k-NN
  manifold ("look real"), and of test images inside the samples' manifold ("cover the data").
- sharpness: mean gradient magnitude over the test images' (model.analysis.sample_quality.sharpness_ratio).
The floor: N training images against the test set; a check: N images of uniform noise. Prints markdown for
BENCHMARKS.md; --json writes the figures (one row per model and temperature) for the models' metrics.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_WEIGHTS, header, row  # noqa: E402

from model.analysis import quality as q  # noqa: E402
from model.analysis.sample_quality import sharpness_ratio  # noqa: E402
from model.data import load_dataset  # noqa: E402
from model.nets.walk import prior_draws  # noqa: E402
from model.serving.registry import ModelRegistry  # noqa: E402

# (model, temperature): every shipped Fashion-MNIST model with a prior at T = 1, and the VAE at T = 0.7
RUNS = [("fashion-mnist", 1.0), ("fashion-mnist", 0.7), ("fashion-mnist-16d-vae", 1.0),
        ("fashion-mnist-2d-vae", 1.0), ("fashion-mnist-2d-beta4", 1.0), ("fashion-mnist-vq", 1.0),
        ("fashion-mnist-2d-ae", 1.0), ("fashion-mnist-16d-ae", 1.0), ("fashion-mnist-gan", 1.0)]
DECODE_BATCH = 500


@torch.inference_mode()
def draw_samples(m, n: int, temperature: float, seed: int) -> np.ndarray:
    """n samples of a loaded model as uint8 (N, C, H, W): the page's prior draws (model.nets.walk.prior_draws:
    N(0, T^2 I); a VQ-VAE's code grids from its PixelCNN prior; a GAN's z through its generator), drawn and decoded
    in batches (batch i seeded seed * 1000 + i). The one place the bench gets samples."""
    b = DECODE_BATCH
    x = torch.cat([m.vae.decode(prior_draws(m.vae, min(b, n - i), temperature, seed * 1000 + i // b))
                   for i in range(0, n, b)])
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def measure(images: np.ndarray, test: np.ndarray) -> dict:
    """FID, precision, recall (against the test set's cached features) and sharpness of uint8 images."""
    t0 = time.perf_counter()
    out = q.quality(images, test)
    out["sharpness"] = sharpness_ratio(images, test)
    out["measure_seconds"] = time.perf_counter() - t0
    return out


def cells(name: str, note: str, r: dict) -> list[str]:
    return [name, note, f"{r['fid']:.2f}", f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['sharpness']:.3f}",
            f"{r['seconds']:.1f} s"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10000, help="samples per model (and training images for the floor)")
    p.add_argument("--models", default="", help="comma-separated names (default: every model in RUNS)")
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    wanted = set(filter(None, args.models.split(",")))
    runs = [(name, t) for name, t in RUNS if not wanted or name in wanted]
    test = load_dataset("fashion-mnist", "test", args.data_dir).images
    train = load_dataset("fashion-mnist", "train", args.data_dir).images
    train = train[np.random.default_rng(args.seed).choice(len(train), min(args.n, len(train)), replace=False)]
    registry = ModelRegistry(args.weights)

    header(f"Sample quality: {args.n:,} samples per model against the {len(test):,} test images "
           f"(FID on Fashion-MNIST classifier features, not comparable to Inception-FID; k = {q.K})",
           ["samples", "T", "FID (F-MNIST features)", "precision", "recall", "sharpness", "time"])
    t0 = time.perf_counter()
    q.reference_stats(test)                                 # the test set's features and k-NN radii, once
    reference_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    floor = measure(train, test)
    floor["seconds"] = time.perf_counter() - t0
    row(cells(f"training images (the floor, {len(train):,})", "-", floor))
    t0 = time.perf_counter()
    noise = np.random.default_rng(args.seed).integers(0, 256, train.shape, dtype=np.uint8)
    ceiling = measure(noise, test)
    ceiling["seconds"] = time.perf_counter() - t0
    row(cells("uniform noise (a check)", "-", ceiling))
    results = [dict(model="training-set", temperature=None, **floor), dict(model="noise", temperature=None, **ceiling)]
    for name, t in runs:
        t0 = time.perf_counter()
        m = registry.get(name)
        images = draw_samples(m, args.n, t, args.seed)
        r = measure(images, test)
        r["seconds"] = time.perf_counter() - t0
        note = f"{t:g}" if m.kind != "vq" else ("PixelCNN prior" if m.vae.code_prior is not None else "uniform codes")
        row(cells(f"{name} ({m.kind})", note, r))
        results.append(dict(model=name, kind=m.kind, temperature=t, **r))
    print(f"\nT: the prior's temperature. time: drawing and decoding the samples, their features, k-NN radii and "
          f"the measures; the test set's features and radii took {reference_seconds:.1f} s once before.")
    if args.json:
        meta = {"n": args.n, "seed": args.seed, "k": q.K, "reference": "fashion-mnist test set",
                "reference_seconds": round(reference_seconds, 2),
                "features": "penultimate layer of weights/.classifier (FID is not comparable to Inception-FID)"}
        rows = [{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in results]
        Path(args.json).write_text(json.dumps(dict(meta, rows=rows), indent=2) + "\n")


if __name__ == "__main__":
    main()
