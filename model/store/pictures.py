"""Pictures of model outputs: crisp upscaling, strips, grids, data URLs and looping GIFs (Pillow)."""
from __future__ import annotations

import base64
import io
import math

import numpy as np
import torch
from PIL import Image

from .weights import atomic_write

DISPLAY_SIZE = 280                 # pixels on screen for one decoded image


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Values in [0, 1] -> bytes, rounded: every picture of a decoded image (PNG, the page's pixels)."""
    return x.clamp(0, 1).mul(255).round().byte()


def to_image(x: torch.Tensor, size: int = DISPLAY_SIZE) -> Image.Image:
    """(C, H, W) in [0, 1] -> PIL image, upscaled by an integer factor with nearest-neighbour
    so every model pixel stays a crisp square."""
    arr = to_uint8(x).permute(1, 2, 0).cpu().numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    scale = max(1, round(size / arr.shape[0]))
    return img.resize((arr.shape[1] * scale, arr.shape[0] * scale), Image.NEAREST)


def to_images(x: torch.Tensor, size: int = DISPLAY_SIZE) -> list[Image.Image]:
    """A batch (N, C, H, W) -> N images."""
    return [to_image(xi, size) for xi in x]


def uint8_image(arr, size: int) -> Image.Image:
    """A stored uint8 (C, H, W) thumbnail -> a crisp image of about size pixels."""
    return to_image(torch.from_numpy(arr).float() / 255, size)


def strip(images: list[Image.Image], gap: int = 4, bg: int = 255) -> Image.Image:
    """Images side by side on one row."""
    w = sum(im.width for im in images) + gap * (len(images) - 1)
    h = max(im.height for im in images)
    out = Image.new("RGB", (w, h), (bg, bg, bg))
    x = 0
    for im in images:
        out.paste(im.convert("RGB"), (x, 0))
        x += im.width + gap
    return out


def grid(images: list[Image.Image], cols: int) -> Image.Image:
    """Images tiled with no gaps (for the manifold figure)."""
    w, h = images[0].size
    rows = math.ceil(len(images) / cols)
    out = Image.new("RGB", (cols * w, rows * h))
    for i, im in enumerate(images):
        out.paste(im.convert("RGB"), ((i % cols) * w, (i // cols) * h))
    return out


def centre_crop(image: Image.Image) -> Image.Image:
    """The middle half of an image (a quarter of its area), where the blur of a reconstruction shows;
    crop a crisp upscaled image and its pixels stay whole squares."""
    w, h = image.size
    return image.crop((w // 4, h // 4, w - w // 4, h - h // 4))


def base64_of(data, dtype=None) -> str:
    """Bytes, or an array's bytes (C order; converted to dtype first when given, e.g. "<f4" for little-endian
    float32), as base64 text: how every array and picture travels to the page in JSON (page.js VAE.bytes
    reads them back into typed arrays)."""
    if not isinstance(data, (bytes, bytearray)):
        data = np.ascontiguousarray(data, dtype=dtype).tobytes()
    return base64.b64encode(data).decode("ascii")


def png_data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64_of(buf.getvalue())


def write_gif(frames: list[Image.Image], path, duration: int) -> None:
    """A looping animated GIF. Colour frames get a fast octree palette each (Pillow's default
    median cut costs ~6x more and gives a larger file); grey frames skip Pillow's palette
    optimisation, which costs ~4x the encoding itself and saves ~3% of the file
    (bench/latency.py, /interpolate)."""
    if frames[0].mode == "RGB":
        frames, optimize = [f.quantize(256, method=Image.Quantize.FASTOCTREE) for f in frames], True
    else:
        optimize = False
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0,
                   optimize=optimize)


def there_and_back(frames: list[Image.Image]) -> list[Image.Image]:
    """A -> B, then back without repeating the ends: the loop an interpolation GIF plays."""
    return frames + frames[-2:0:-1]


def write_grid(images: torch.Tensor, path, cols: int = 8, size: int = 56) -> None:
    """(N, C, H, W) in [0, 1] -> one PNG of N tiles, cols per row, written atomically: the long runs' sample
    grids (the GAN, the VQ-VAE's prior), which can be looked at while they train."""
    picture = grid(to_images(images.detach().cpu(), size), cols)
    atomic_write(path, lambda tmp: picture.save(tmp, format="PNG"))
