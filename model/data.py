"""Data: Fashion-MNIST (IDX files from Debian's package), scikit-learn's digits, a user's
folder of images, and the preprocessing every uploaded image goes through.

Nothing here downloads anything.
"""
from __future__ import annotations

import gzip
import io
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                 "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
FASHION_HINT = ("Fashion-MNIST not found: install it with `apt-get install dataset-fashion-mnist`, "
                "or pass --data-dir / set VAE_DATA_DIR to a folder holding the four IDX .gz files")

# Uploads: formats Pillow may open (no SVG/PDF/PSD/EPS, nothing exotic) and a pixel limit far
# above anything the app needs but far below a decompression bomb.
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
MAX_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS     # Pillow's own bomb guard, lowered to the same limit
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")


class DataError(RuntimeError):
    """A data set is missing or malformed; the message says what to do."""


class ImageError(ValueError):
    """An uploaded image cannot be used; the message is safe to show to the user."""


@dataclass
class Dataset:
    """Images as uint8 (N, C, H, W) and integer labels; small enough to keep in memory."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


# ---------------------------------------------------------------- Fashion-MNIST (IDX format)
def find_fashion_mnist(data_dir: str | os.PathLike | None = None) -> Path:
    """The first of --data-dir, $VAE_DATA_DIR, Debian's path that holds all four files."""
    candidates = [data_dir, os.environ.get("VAE_DATA_DIR"), DEBIAN_FASHION_DIR]
    for cand in candidates:
        if not cand:
            continue
        d = Path(cand)
        if all(_idx_path(d, name) for pair in FASHION_FILES.values() for name in pair):
            return d
        if cand is data_dir:            # an explicit folder that lacks the files is an error
            raise DataError(f"{d} does not hold the Fashion-MNIST IDX files. {FASHION_HINT}")
    raise DataError(FASHION_HINT)


def _idx_path(d: Path, name: str) -> Path | None:
    for p in (d / f"{name}.gz", d / name):
        if p.is_file():
            return p
    return None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzipped or not): magic, dims as big-endian uint32, then uint8 data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise DataError(f"{path}: not an IDX file (too short)")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"{path}: not a uint8 IDX file")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise DataError(f"{path}: truncated ({arr.size} values, header says {shape})")
    return arr.reshape(shape).copy()         # writable, detached from the file buffer


def load_fashion_mnist(split: str, data_dir=None) -> Dataset:
    d = find_fashion_mnist(data_dir)
    img_name, lbl_name = FASHION_FILES[split]
    images = read_idx(_idx_path(d, img_name))[:, None]          # (N, 1, 28, 28)
    labels = read_idx(_idx_path(d, lbl_name)).astype(np.int64)
    return Dataset(np.ascontiguousarray(images), labels, FASHION_CLASSES)


# ---------------------------------------------------------------- scikit-learn digits
def load_digits(split: str, image_size: int = 28) -> Dataset:
    """scikit-learn's bundled 8x8 digits (values 0..16), resized; 80/20 split, fixed order."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    imgs = (bunch.images / 16.0 * 255).astype(np.uint8)
    resized = np.stack([np.asarray(Image.fromarray(im).resize((image_size, image_size), Image.BILINEAR))
                        for im in imgs])[:, None]
    labels = bunch.target.astype(np.int64)
    test = np.arange(len(labels)) % 5 == 0
    keep = test if split == "test" else ~test
    return Dataset(resized[keep], labels[keep], tuple(str(i) for i in range(10)))


# ---------------------------------------------------------------- a user's folder of images
def list_folder(root: str | os.PathLike) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """Image files under root; the class is the first sub-folder (files at the top: class '.')."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    classes = sorted({p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else "."
                      for p in files})
    index = {c: i for i, c in enumerate(classes)}
    labels = [index[p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else "."]
              for p in files]
    return files, labels, tuple(classes)


def folder_split(files: list[Path], split: str) -> list[int]:
    """Every 10th file (in sorted order) is test data: stable as the folder grows at the end."""
    return [i for i in range(len(files)) if (i % 10 == 0) == (split == "test")]


def load_folder(root, split: str, image_size: int, channels: int, background: str = "black",
                invert: str = "never") -> Dataset:
    files, labels, classes = list_folder(root)
    keep = folder_split(files, split)
    images, kept_labels = [], []
    for i in keep:
        try:
            arr = preprocess_image(files[i], image_size, channels, background, invert)
        except ImageError as e:
            print(f"skipping {files[i]}: {e}")
            continue
        images.append(arr)
        kept_labels.append(labels[i])
    if not images:
        raise DataError(f"no usable images in the {split} split of {root}")
    return Dataset(np.stack(images), np.array(kept_labels, dtype=np.int64), classes)


class FolderSource:
    """A folder's split as a lazily decoded, map-style source (for torch's DataLoader with worker
    processes): folders larger than memory stream from disk. Item i -> (uint8 (C, H, W), label)."""

    def __init__(self, root, split: str, image_size: int, channels: int, background: str = "white") -> None:
        files, labels, self.class_names = list_folder(root)
        keep = folder_split(files, split)
        self.files = [files[i] for i in keep]
        self.labels = [labels[i] for i in keep]
        self.image_size, self.channels, self.background = image_size, channels, background

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        try:
            arr = preprocess_image(self.files[i], self.image_size, self.channels, self.background, "never")
        except ImageError as e:      # keep batches full and deterministic: an unreadable file is blank
            print(f"warning: {self.files[i]}: {e}; using a blank image")
            arr = np.full((self.channels, self.image_size, self.image_size),
                          0 if self.background == "black" else 255, dtype=np.uint8)
        return arr, self.labels[i]


def load_dataset(name: str, split: str, data_dir=None, image_size: int = 28, channels: int = 1) -> Dataset:
    if name == "fashion-mnist":
        return load_fashion_mnist(split, data_dir)
    if name == "digits":
        return load_digits(split, image_size)
    if name == "folder":
        if not data_dir:
            raise DataError("--dataset folder needs --data-dir pointing at a folder of images")
        return load_folder(data_dir, split, image_size, channels, background="white")
    raise DataError(f"unknown dataset {name!r}: choose fashion-mnist, digits or folder")


# ---------------------------------------------------------------- uploads
def open_image(source, draft_side: int | None = None) -> Image.Image:
    """Open an upload safely: allowed formats only, header checked for size before decoding.
    draft_side: a JPEG larger than this square is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's
    draft mode), never below it: a phone photo then costs a few MB, not hundreds.

    Every failure is an ImageError whose message says what is wrong without naming a server path."""
    img = None
    try:
        if isinstance(source, Image.Image):
            img = source
        else:
            if isinstance(source, (bytes, bytearray)):
                if not source:
                    raise ImageError("the file is empty (0 bytes)")
                source = io.BytesIO(source)
            elif isinstance(source, (str, os.PathLike)) and os.path.isfile(source) and os.path.getsize(source) == 0:
                raise ImageError("the file is empty (0 bytes)")
            img = Image.open(source, formats=ALLOWED_FORMATS)
        w, h = img.size
        if w < 1 or h < 1:
            raise ImageError("the image is empty (0 pixels)")
        if w * h > MAX_PIXELS:
            raise ImageError(f"the image is too large ({w}x{h} pixels; at most {MAX_PIXELS:,})")
        if getattr(img, "is_animated", False):
            img.seek(0)                                  # an animated GIF/WebP: its first frame
        if draft_side and img.format == "JPEG" and max(w, h) > draft_side:
            img.draft(img.mode, (draft_side, draft_side))
        img.load()
        return img
    except ImageError:
        _close(img, source)
        raise
    except FileNotFoundError:
        raise ImageError("the file was not found (the upload may have expired: upload it again)") from None
    except Image.DecompressionBombError:
        _close(img, source)
        raise ImageError(f"the image is too large (at most {MAX_PIXELS:,} pixels)") from None
    except Image.UnidentifiedImageError:
        announced = _sniff(source)
        if announced:
            raise ImageError(f"the {announced} file is damaged or truncated and cannot be decoded") from None
        raise ImageError(f"not an image in a supported format ({', '.join(ALLOWED_FORMATS)}); "
                         "SVG, PDF, PSD and others are not accepted: export a PNG or JPEG") from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError, IndexError, KeyError, TypeError,
            ZeroDivisionError, MemoryError) as e:
        _close(img, source)
        reason = str(e).split("\n")[0][:120] if e.args and not isinstance(e, MemoryError) else type(e).__name__
        raise ImageError(f"the image file is damaged or truncated and cannot be decoded ({reason})") from None


MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
         (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def _sniff(source) -> str | None:
    """The allowed format a file's first bytes announce (to tell 'damaged' from 'not an image')."""
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                head = f.read(16)
        else:
            pos = source.tell()
            source.seek(0)
            head = source.read(16)
            source.seek(pos)
    except (OSError, AttributeError, ValueError):
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((name for magic, name in MAGIC if head.startswith(magic)), None)


def _close(img, source) -> None:
    """Release the file handle of an image we opened (not one the caller passed in)."""
    if img is not None and img is not source:
        img.close()


def _shrink(img: Image.Image, max_side: int | None) -> Image.Image:
    """Box-average by an integer factor so the long side is at most max_side, before any float
    copy (a 36-megapixel upload would otherwise need ~2 GB). Pillow premultiplies alpha."""
    if not max_side or max(img.size) <= max_side:
        return img
    if img.mode not in ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F"):     # 1, P, ...: no reduce()
        img = img.convert("L" if img.mode == "1" else "RGBA")
    return img.reduce(math.ceil(max(img.size) / max_side))


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF Orientation tag (phone photos); no copy when there is none."""
    try:
        orientation = img.getexif().get(0x0112, 1)
    except Exception:                                    # a damaged EXIF block: ignore it
        return img
    return ImageOps.exif_transpose(img) if orientation not in (None, 1) else img


def _to_rgba_float(img: Image.Image, max_side: int | None = None) -> np.ndarray:
    """Any mode -> float RGBA array (H, W, 4) in [0, 1]; 16-bit and 1-bit handled exactly.
    With max_side, the image is first box-reduced so its long side is at most max_side."""
    img = _upright(img)
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        img = _shrink(img if mode == "I" else img.convert("I"), max_side)
        a = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        g = np.clip(a / hi, 0, 1)
        return np.dstack([g, g, g, np.ones_like(g)]).astype(np.float32)
    if mode == "F":
        a = np.asarray(_shrink(img, max_side), dtype=np.float64)
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        g = np.nan_to_num((a - lo) / (hi - lo) if hi > lo else np.zeros_like(a))
        return np.dstack([g, g, g, np.ones_like(g)]).astype(np.float32)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    img = _shrink(img, max_side)
    if img.mode != "RGBA":
        img = img.convert("RGBA")                       # L, LA, 1, P, RGB, CMYK, YCbCr ...
    return np.asarray(img, dtype=np.float32) / 255.0


def preprocess_image(source, image_size: int = 28, channels: int = 1, background: str = "black",
                     invert: str = "auto") -> np.ndarray:
    """An upload -> uint8 array (C, image_size, image_size), ready for the model.

    Transparent pixels are composited onto the data set's background; the image is fitted
    inside the square without being squashed (letterboxed with the background); for a model
    trained on light-on-dark images (Fashion-MNIST), a photo on a light background is inverted
    when invert="auto" (decided from the border pixels).
    """
    work = max(256, 8 * image_size)                      # working resolution: far above the output
    img = open_image(source, draft_side=work)
    rgba = _to_rgba_float(img, max_side=work)            # (H, W, 4)
    bg = 0.0 if background == "black" else 1.0
    alpha = rgba[..., 3:4]
    rgb = rgba[..., :3] * alpha + bg * (1 - alpha)
    if channels == 1:
        px = (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    else:
        px = rgb
    if invert == "always" or (invert == "auto" and channels == 1 and _border_is_opposite(px, bg)):
        px = 1.0 - px
    h, w = px.shape[:2]
    scale = image_size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    planes = []
    for c in range(px.shape[2]):
        plane = Image.fromarray(px[..., c].astype(np.float32), mode="F")
        planes.append(np.asarray(plane.resize((nw, nh), Image.BOX if scale < 1 else Image.BILINEAR)))
    small = np.clip(np.stack(planes, axis=0), 0, 1)      # (C, nh, nw)
    out = np.full((px.shape[2], image_size, image_size), bg, dtype=np.float32)
    top, left = (image_size - nh) // 2, (image_size - nw) // 2
    out[:, top:top + nh, left:left + nw] = small
    return np.round(out * 255).astype(np.uint8)


def _border_is_opposite(px: np.ndarray, bg: float) -> bool:
    """True when the image's border is far from the model's background colour."""
    h, w = px.shape[:2]
    if h < 3 or w < 3:
        return False
    border = np.concatenate([px[0].ravel(), px[-1].ravel(), px[:, 0].ravel(), px[:, -1].ravel()])
    return abs(float(np.median(border)) - bg) > 0.5


def main(argv=None) -> int:
    """`python -m model.data emoji --out DIR`: build a data set folder (see model/emoji.py)."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m model.data", description="build a data set folder")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("emoji", help="render Noto Color Emoji into 64x64 RGB images, by group")
    e.add_argument("--out", required=True)
    e.add_argument("--font", default="/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
    e.add_argument("--size", type=int, default=64)
    args = p.parse_args(argv)
    from .emoji import build_emoji_dataset

    try:
        n = build_emoji_dataset(args.out, args.font, args.size)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {n} emoji images to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
