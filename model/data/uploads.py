"""Uploaded images: opened safely (allowed formats, a pixel limit read from the header before any
decoding) and fitted to what a model expects. Every failure is an ImageError whose message is safe
to show to the user and names no server path.
"""
from __future__ import annotations

import io
import math
import os
import struct

import numpy as np
from PIL import Image, ImageOps

# Formats Pillow may open (no SVG/PDF/PSD/EPS, nothing exotic) and a pixel limit far above anything the
# app needs but far below a decompression bomb. Checked per image from the header, before decoding;
# Pillow's global MAX_IMAGE_PIXELS is left alone (the app does not change library-wide state).
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
MAX_PIXELS = 40_000_000


class ImageError(ValueError):
    """An uploaded image cannot be used; the message is safe to show to the user."""


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
