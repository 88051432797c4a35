"""A picture of what a model has learned, for the README and closing notes: a row of images, their
reconstructions (decoded means), a spherical walk between two of them, and samples from the prior.

    python -m model figure weights/emoji assets/examples/emoji/*.png \
        --pair assets/examples/emoji/grinning-face.png assets/examples/emoji/frowning-face.png \
        --out assets/emoji-results.png

Also prints each image's reconstruction mean squared error (pixels in [0, 1]).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from ..cli import fail
from ..data import ImageError
from ..store.pictures import to_image
from ..store.weights import WeightsError
from . import requests as ex
from .registry import LoadedModel, ModelRegistry

TILE = 128                          # px; tiles are a whole multiple of the image size (crisp pixels)


def rows_figure(rows: list[tuple[str, list[Image.Image]]], tile: int = TILE) -> Image.Image:
    """Rows of equally sized tiles (nearest-neighbour upscaled) under one-line captions."""
    cols = max(len(r) for _, r in rows)
    cap, gap = 16, 4
    out = Image.new("RGB", (cols * (tile + gap) + gap, len(rows) * (tile + cap + gap) + gap), "white")
    draw = ImageDraw.Draw(out)
    for r, (caption, images) in enumerate(rows):
        y = gap + r * (tile + cap + gap)
        draw.text((gap, y + 2), caption, fill=(60, 60, 60))
        for c, img in enumerate(images):
            out.paste(img.convert("RGB").resize((tile, tile), Image.NEAREST), (gap + c * (tile + gap), y + cap))
    return out


def model_figure(m: LoadedModel, images: list[str], pair: tuple[str, str] | None, steps: int = 8,
                 n_samples: int = 8, seed: int = 0) -> tuple[Image.Image, list[float]]:
    """The figure, and the reconstruction MSE of each image."""
    inputs, recons, mses = [], [], []
    for path in images:
        x = ex.load_upload(m, path)
        with torch.no_grad():
            mu, _ = m.vae.encode(x)
            r = m.vae.decode(mu)
        mses.append(float(((r - x) ** 2).mean()))
        inputs.append(to_image(x[0], m.vae.config.image_size))
        recons.append(to_image(r[0], m.vae.config.image_size))
    rows = [("input", inputs), ("reconstruction (decoded mean)", recons)]
    if pair:
        frames = ex.interpolate_images(m, pair[0], pair[1], steps, "spherical")["frames"]
        rows.append((f"spherical walk: {Path(pair[0]).stem} -> {Path(pair[1]).stem}", frames))
    samples, _ = ex.sample(m, n_samples, 1.0, seed)
    rows.append((f"samples from the prior N(0, I), seed {seed}", samples))
    size = m.vae.config.image_size
    return rows_figure(rows, size * max(1, TILE // size)), mses


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m model figure", description=__doc__.splitlines()[0])
    p.add_argument("weights", help="a model folder, e.g. weights/emoji")
    p.add_argument("images", nargs="+", help="images to reconstruct")
    p.add_argument("--pair", nargs=2, metavar=("A", "B"), help="two images to walk between")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="PNG to write")
    a = p.parse_args(argv)
    folder = Path(a.weights)
    try:
        m = ModelRegistry(folder.parent).get(folder.name)
        fig, mses = model_figure(m, a.images, tuple(a.pair) if a.pair else None, a.steps, seed=a.seed)
    except (WeightsError, ImageError, ex.ExplorerError) as e:
        return fail(e)
    fig.save(a.out)
    for path, mse in zip(a.images, mses, strict=True):
        print(f"{Path(path).name}: reconstruction MSE {mse:.4f}")
    print(f"wrote {a.out}")
    return 0
