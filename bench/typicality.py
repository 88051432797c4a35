"""Is this image typical? (issue 22): how well each score tells a model's test set from other images.

    python bench/typicality.py [--models fashion-mnist,faces,...] [--n 2000]

For every shipped model with a likelihood, the ROC AUC of three "how unusual" scores, the model's test images
(negatives) against each other set (positives): the model's own -ELBO (its training objective), the -ELBO of
the 8-bit image (the discretized likelihood, model/analysis/typicality.py), and the complexity-corrected score
(Serrà et al. 2020). 1.0: every other image scores above every test image; 0.5: a coin; below 0.5: fooled.

The other sets, each fitted to the model's input the way an upload is (preprocess_image, auto-invert):
- grey 28x28 models: scikit-learn's digits (all 1,797, upscaled), the faces and the emoji in grey, uniform
  noise, constant images (every grey level), and stroke drawings of digits (made here: jittered pen strokes,
  2-3 px wide, as the sketch pad makes them);
- colour 64x64 models: the other colour set (faces against emoji and back), noise and constant images.
Prints markdown for BENCHMARKS.md and the README.
"""
from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header  # noqa: E402

from model.analysis import typicality as ty  # noqa: E402
from model.data import load_dataset, load_digits, load_faces, preprocess_image, stroke_digits  # noqa: E402
from model.data.intake import emoji_folder  # noqa: E402
from model.nets.weights import load_metrics, load_vae  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GREY = ["fashion-mnist", "fashion-mnist-2d", "fashion-mnist-2d-vae", "fashion-mnist-2d-beta4",
        "fashion-mnist-16d-vae", "fashion-mnist-vq"]
COLOUR = ["faces", "faces-beta4", "emoji"]
def auc(neg: np.ndarray, pos: np.ndarray) -> float:
    """P(a random other image scores above a random test image), ties counted half (ROC AUC)."""
    return float(roc_auc_score(np.r_[np.zeros(len(neg)), np.ones(len(pos))], np.r_[neg, pos]))


def as_upload(pictures, size: int, channels: int, background: str) -> np.ndarray:
    """PIL images or uint8 (C, H, W) arrays -> the model's input as an upload gets it."""
    out = []
    for p in pictures:
        if isinstance(p, np.ndarray):
            p = Image.fromarray(p[0] if p.shape[0] == 1 else p.transpose(1, 2, 0))
        out.append(preprocess_image(p, size, channels, background))
    return np.stack(out)


@functools.lru_cache(maxsize=4)
def _others(size: int, channels: int, background: str, n: int) -> dict[str, np.ndarray]:
    """Every other set for one input shape, made once (the grey models share them)."""
    return others(size, channels, background, "", n)


def others(size: int, channels: int, background: str, own: str, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    sets = {}
    if channels == 1:
        digits = np.concatenate([load_digits(s, 28).images for s in ("train", "test")])
        sets["digits (scikit-learn, upscaled)"] = as_upload(digits, size, 1, background)
        faces = load_faces("test").images[:n]
        sets["faces in grey"] = as_upload(faces, size, 1, background)
        emoji = load_dataset("folder", "test", emoji_folder(), 64, 3).images
        sets["emoji in grey"] = as_upload(emoji, size, 1, background)
        sets["stroke drawings of digits"] = as_upload(stroke_digits(500), size, 1, background)
    else:
        if own != "faces":
            sets["faces (colour)"] = load_faces("test").images[:n]
        if own != "emoji":
            sets["emoji (colour)"] = load_dataset("folder", "test", emoji_folder(), size, 3).images
    sets["uniform noise"] = rng.integers(0, 256, (500, channels, size, size), dtype=np.uint8)
    levels = np.arange(256, dtype=np.uint8)
    sets["constant images"] = np.broadcast_to(levels[:, None, None, None], (256, channels, size, size)).copy()
    return sets


def test_set(name: str, vae, n: int) -> np.ndarray:
    c = vae.config
    dataset = load_metrics(ROOT / "weights" / name).get("dataset", "fashion-mnist")
    data_dir = emoji_folder() if dataset == "folder" else None
    images = load_dataset(dataset, "test", data_dir, c.image_size, c.channels).images
    return images[:n]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(GREY + COLOUR))
    p.add_argument("--n", type=int, default=2000, help="test images per model (and faces per set)")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    t0 = time.time()
    header("Is this image typical? ROC AUC against each model's test set (issue 22)",
           ["model", "other set", "own -ELBO AUC", "8-bit -ELBO AUC", "corrected score AUC", "target (corrected)"])
    for name in a.models.split(","):
        vae = load_vae(ROOT / "weights" / name)
        ref = load_metrics(ROOT / "weights" / name).get("typicality")
        if not ref:
            print(f"| {name} | no stored typicality: run `python -m model evaluate weights/{name} --typicality` |")
            continue
        c = vae.config
        mine = ty.scores(vae, test_set(name, vae, a.n), ref["scale"])
        sets = {k: v for k, v in _others(c.image_size, c.channels, c.background, a.n).items()
                if not k.startswith(name.split("-")[0])}                 # not a model's own kind of picture
        for other, images in sets.items():
            s = ty.scores(vae, images, ref["scale"])
            a_own, a_raw, a_cor = (auc(mine[k], s[k]) for k in ("elbo", "neg_elbo", "score"))
            met = "yes" if a_cor >= 0.95 else "**no**"
            print(f"| {name} | {other} ({len(images):,}) | {a_own:.3f} | {a_raw:.3f} | {a_cor:.3f} | >= 0.95: {met} |",
                  flush=True)
    print(f"\n(run time {time.time() - t0:.0f} s; each model's first {a.n:,} test images are the negatives)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
