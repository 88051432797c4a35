"""The sharp-samples figure (docs/models.md, assets/samples.png): the same seed's samples from the VAE, the
VQ-VAE through its PixelCNN prior, and the GAN, one row each, with the test images' nearest neighbours'
sharpness beside them for scale.

    python tools/samples_figure.py [--out assets/samples.png] [--seed 0] [--n 10]

Every row draws n samples with the same seed (model.nets.walk.prior_draws at T = 1, as the Sample tab does),
upscaled by nearest neighbour so the pixels stay crisp; a last row shows n test images for reference.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.nets.walk import prior_draws  # noqa: E402
from model.serving.registry import ModelRegistry  # noqa: E402
from model.store.pictures import strip, to_images, uint8_image  # noqa: E402

ROWS = (("fashion-mnist", "VAE (16-D), z ~ N(0, I)"),
        ("fashion-mnist-vq", "VQ-VAE, codes from its PixelCNN prior"),
        ("fashion-mnist-gan", "GAN, z ~ N(0, I) through the generator"))
SIZE, LABEL_W = 84, 300


def row(label: str, images: list[Image.Image]) -> Image.Image:
    body = strip(images, gap=4)
    out = Image.new("RGB", (LABEL_W + body.width, body.height), "white")
    out.paste(body, (LABEL_W, 0))
    ImageDraw.Draw(out).multiline_text((8, body.height // 2 - 30), label, fill="black", spacing=4,
                                       font=ImageFont.load_default(size=15))
    return out


@torch.inference_mode()
def figure(registry: ModelRegistry, seed: int, n: int) -> Image.Image:
    rows = []
    for name, label in ROWS:
        m = registry.get(name)
        sharp = m.metrics.get("measures", {}).get("sharp_samples")
        images = to_images(m.vae.decode(prior_draws(m.vae, n, 1.0, seed)), SIZE)
        rows.append(row(f"{label}\n{name}, seed {seed}\nsharpness {sharp} (test images: 1)", images))
    test = registry.get("fashion-mnist").atlas["thumbnails"][:n]
    rows.append(row("test images, for reference", [uint8_image(t, SIZE) for t in test]))
    out = Image.new("RGB", (max(r.width for r in rows), sum(r.height + 8 for r in rows)), "white")
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height + 8
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "assets" / "samples.png"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, default=10)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    figure(ModelRegistry(ROOT / "weights"), a.seed, a.n).save(a.out, optimize=True)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
