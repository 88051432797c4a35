"""A faces data set with known factors, in the manner of dSprites and 3D Shapes: flat-design
emoji-like faces, 64x64 RGB on white, each drawn from ten independent factors in [-1, 1].

    python -m model data faces --out DIR --n 50000        # DIR/train.npz, DIR/test.npz, DIR/sheet.png
    python -m model train --dataset faces ...             # generated into the cache when first needed

Drawing is a pure function of the factors (`draw_face`), and the factors are drawn from a seeded
generator, so one seed always gives the same images. Faces are drawn at 4x and downsampled
(Lanczos) for antialiasing. The factors travel beside the images (`Dataset.factors`, one column
per name in FACTORS), and `mouth_curvature` measures the mouth back from pixels alone.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .base import DataError, Dataset

FACTORS = ("smile", "mouth_open", "eye_size", "eye_spacing", "brow_tilt", "colour", "face_width",
           "shift_x", "shift_y", "rotation")
FACTOR_HELP = {
    "smile": "mouth curvature: frown (-1) to smile (+1)",
    "mouth_open": "closed line (-1) to wide open (+1)",
    "eye_size": "narrow (-1) to big round eyes (+1)",
    "eye_spacing": "close-set (-1) to wide-set (+1)",
    "brow_tilt": "worried (-1, inner ends up) to angry (+1, inner ends down)",
    "colour": "emoji yellows (-1) through light to dark skin tones (+1)",
    "face_width": "narrow (-1) to wide (+1)",
    "shift_x": "left (-1) to right (+1), up to 3 pixels",
    "shift_y": "up (-1) to down (+1), up to 3 pixels",
    "rotation": "clockwise (-1) to anticlockwise (+1), up to 12 degrees",
}
CLASS_NAMES = ("frowning", "neutral", "smiling")        # the map's colours: smile factor in thirds
SIZE, SCALE = 64, 4                                     # output pixels; drawn at SCALE x for antialiasing
SPLITS = {"train": (50_000, 0), "test": (5_000, 1)}     # default size and seed offset per split
PALETTE = np.array([(255, 204, 51), (255, 214, 90), (250, 190, 70), (244, 212, 176), (226, 180, 138),
                    (196, 140, 98), (160, 108, 72)], dtype=np.float64)
INK, MOUTH = (64, 40, 28), (92, 38, 34)                # eyes and brows; the mouth
FACE_R = 0.41                                           # face height radius, as a fraction of the image
MOUTH_Y, MOUTH_HALF_W, MOUTH_BEND = 0.46, 0.44, 0.26    # in face radii: the mouth's middle, half-width, bend
BACKGROUND = (255, 255, 255)


def face_colour(t: float) -> tuple[int, int, int]:
    """colour factor in [-1, 1] -> a point on the palette path (yellows, then skin tones)."""
    pos = (t + 1) / 2 * (len(PALETTE) - 1)
    i = min(int(pos), len(PALETTE) - 2)
    c = PALETTE[i] + (pos - i) * (PALETTE[i + 1] - PALETTE[i])
    return tuple(int(round(v)) for v in c)


def lerp(lo: float, hi: float, f: float) -> float:
    """f in [-1, 1] -> lo..hi."""
    return lo + (hi - lo) * (f + 1) / 2


def mouth_polygon(f: dict, cx: float, cy: float, r: float, steps: int = 40) -> list[tuple[float, float]]:
    """The mouth as one closed outline: a parabola whose bend is the smile factor, thickened by the
    opening. Centred so that smile = +1 and -1 are mirror images about the mouth's middle line."""
    y0, half_w, bend = cy + MOUTH_Y * r, MOUTH_HALF_W * r, MOUTH_BEND * r * f["smile"]
    thick, opening = 0.06 * r, lerp(0.0, 0.16 * r, f["mouth_open"])
    us = np.linspace(-1, 1, steps)
    mid = y0 + bend * ((1 - us ** 2) - 2 / 3)          # the bend averages to zero over the width
    half = thick + opening * np.sqrt(np.clip(1 - us ** 2, 0, 1))
    xs = cx + half_w * us
    top = list(zip(xs, mid - half, strict=True))
    bottom = list(zip(xs[::-1], (mid + half)[::-1], strict=True))
    return top + bottom


def draw_face(f: dict, size: int = SIZE, scale: int = SCALE) -> Image.Image:
    """One face from its factors (a dict name -> value in [-1, 1]); deterministic."""
    big = size * scale
    img = Image.new("RGB", (big, big), BACKGROUND)
    d = ImageDraw.Draw(img)
    r = FACE_R * big
    cx = big / 2 + f["shift_x"] * 3 * scale
    cy = big / 2 + f["shift_y"] * 3 * scale
    rw = r * lerp(0.80, 1.04, f["face_width"])
    skin = face_colour(f["colour"])
    rim = tuple(int(v * 0.82) for v in skin)
    d.ellipse([cx - rw, cy - r, cx + rw, cy + r], fill=rim)
    inset = 0.045 * r
    d.ellipse([cx - rw + inset, cy - r + inset * 0.6, cx + rw - inset, cy + r - inset * 1.6], fill=skin)
    eye_dx = rw * lerp(0.24, 0.44, f["eye_spacing"])
    eye_y, eye_w, eye_h = cy - 0.17 * r, 0.11 * r, r * lerp(0.05, 0.21, f["eye_size"])
    tilt = math.radians(28) * f["brow_tilt"]
    brow_y, brow_l = eye_y - eye_h - 0.16 * r, 0.18 * r
    for side in (-1, 1):
        ex = cx + side * eye_dx
        d.ellipse([ex - eye_w, eye_y - eye_h, ex + eye_w, eye_y + eye_h], fill=INK)
        dx, dy = brow_l * math.cos(tilt), brow_l * math.sin(tilt)
        inner, outer = (ex - side * dx, brow_y + dy), (ex + side * dx, brow_y - dy)
        d.line([outer, inner], fill=INK, width=int(0.085 * r))
        for p in (inner, outer):                        # round caps
            d.ellipse([p[0] - 0.042 * r, p[1] - 0.042 * r, p[0] + 0.042 * r, p[1] + 0.042 * r], fill=INK)
    d.polygon(mouth_polygon(f, cx, cy, r), fill=MOUTH)
    if f["rotation"]:
        img = img.rotate(12 * f["rotation"], resample=Image.BICUBIC, center=(cx, cy), fillcolor=BACKGROUND)
    return img.resize((size, size), Image.LANCZOS)


def sample_factors(n: int, seed: int) -> np.ndarray:
    """(n, len(FACTORS)) float32, independent and uniform in [-1, 1]."""
    return np.random.default_rng(seed).uniform(-1, 1, (n, len(FACTORS))).astype(np.float32)


def render(factors: np.ndarray, size: int = SIZE) -> np.ndarray:
    """(N, F) factors -> uint8 (N, 3, size, size) images."""
    out = np.empty((len(factors), 3, size, size), np.uint8)
    for i, row in enumerate(factors):
        out[i] = np.asarray(draw_face(dict(zip(FACTORS, map(float, row), strict=True)), size)).transpose(2, 0, 1)
    return out


def smile_labels(factors: np.ndarray) -> np.ndarray:
    """The map's classes: frowning / neutral / smiling, by thirds of the smile factor."""
    return np.digitize(factors[:, FACTORS.index("smile")], [-1 / 3, 1 / 3]).astype(np.int64)


def make_faces(n: int, seed: int = 0) -> Dataset:
    """n faces drawn from seed (the same seed always gives the same faces and factors)."""
    factors = sample_factors(n, seed)
    return Dataset(render(factors), smile_labels(factors), CLASS_NAMES, factors=factors, factor_names=FACTORS)


def save_faces(ds: Dataset, path: Path) -> None:
    from ..store.weights import atomic_write

    def write(tmp):
        with open(tmp, "wb") as f:                # a file object: np.savez would add ".npz" to a name
            np.savez(f, images=ds.images, factors=ds.factors, factor_names=np.array(ds.factor_names))
    atomic_write(path, write)


def read_faces(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as z:
            images, factors, names = z["images"], z["factors"], tuple(str(s) for s in z["factor_names"])
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{path}: not a faces file ({e}); delete it and it will be generated again") from None
    if names != FACTORS or images.shape[1:] != (3, SIZE, SIZE) or len(images) != len(factors):
        raise DataError(f"{path}: made by another version of the faces data set; delete it to regenerate")
    return Dataset(images, smile_labels(factors), CLASS_NAMES, factors=factors, factor_names=FACTORS)


def cache_dir() -> Path:
    """$VAE_DATA_DIR/faces, or ~/.cache/vae-latent-explorer/faces (never inside the repository)."""
    root = os.environ.get("VAE_DATA_DIR")
    return Path(root) / "faces" if root else Path.home() / ".cache" / "vae-latent-explorer" / "faces"


def build_faces(out, n: int = SPLITS["train"][0], n_test: int | None = None, seed: int = 0) -> dict[str, int]:
    """Write out/train.npz and out/test.npz (test: n_test faces, default n // 10, from its own seed)."""
    if n < 1 or (n_test is not None and n_test < 1):
        raise DataError(f"--n must be at least 1 (got {n})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = {"train": n, "test": n_test if n_test is not None else max(1, n // 10)}
    for split, count in sizes.items():
        save_faces(make_faces(count, seed * 1000 + SPLITS[split][1]), out / f"{split}.npz")
    return sizes


def load_faces(split: str, data_dir=None) -> Dataset:
    """A split from data_dir (or the cache), generated there with the default sizes if missing."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}: choose train or test")
    folder = Path(data_dir) if data_dir else cache_dir()
    path = folder / f"{split}.npz"
    if not path.is_file():
        print(f"generating the faces data set into {folder} (once; about a minute)", flush=True)
        build_faces(folder, SPLITS["train"][0], SPLITS["test"][0])
    return read_faces(path)


# ---------------------------------------------------------------- measuring a face back from pixels
def mouth_curvature(images: np.ndarray) -> np.ndarray:
    """The data set's own estimate of the smile factor, from pixels alone: fit a parabola to the dark
    ink in the lower part of the face and return its bend (+ smile, - frown; about the factor's scale).

    images: uint8 (N, 3, H, W) or float in [0, 1]. Works on blurry decodes: ink is weighted by darkness.
    """
    x = np.asarray(images, dtype=np.float64)
    if x.max() > 1.5:
        x = x / 255.0
    lum = x.mean(axis=1)                                            # (N, H, W)
    n, h, w = lum.shape
    face = (lum < 0.97).astype(np.float64)                          # not the white background
    ink = np.clip(0.30 - lum, 0, None)                              # eyes, brows, mouth; not the rim
    rows, cols = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)
    half_w, bend = FACE_R * MOUTH_HALF_W * w, FACE_R * MOUTH_BEND * h     # the mouth's half-width, full bend
    out = np.zeros(n)
    for i in range(n):
        if face[i].sum() < 10:
            continue
        cy = (face[i].sum(1) * rows).sum() / face[i].sum()
        cx = (face[i].sum(0) * cols).sum() / face[i].sum()
        u = (cols - cx) / half_w                                    # mouth corners at -1, +1
        below = (rows[:, None] - cy) / (FACE_R * h)                 # in face radii below the centre
        band = (below > 0.15) & (below < 0.92) & (np.abs(u) < 1.15)  # under the eyes, however they turn
        lower = ink[i] * band
        col_w = lower.sum(0)
        keep = col_w > 0.05
        if keep.sum() < 5:
            continue
        col_y = (lower * rows[:, None]).sum(0)[keep] / col_w[keep]   # the ink's middle row, per column
        a = np.polyfit(u[keep], col_y, 2, w=np.sqrt(col_w[keep]))[0]
        out[i] = -a / bend                                          # bend in units of the smile factor
    return out


def contact_sheet(folder, n: int = 48, cols: int = 8, scale: int = 2) -> Path:
    """folder/sheet.png: the first n test faces at scale x, to look at before training."""
    from ..store.pictures import grid, uint8_image

    ds = read_faces(Path(folder) / "test.npz")
    path = Path(folder) / "sheet.png"
    grid([uint8_image(x, SIZE * scale) for x in ds.images[:n]], cols).save(path)
    return path
