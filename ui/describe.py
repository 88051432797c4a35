"""The decoded image's text alternative: the shipped Fashion-MNIST classifier (weights/.classifier), run in the
page (ONNX Runtime Web, assets/describe.js) on what the decoder drew, says "looks like a sneaker (87%)".

Only for models whose images are the classifier's kind (1 x 28 x 28, Fashion-MNIST's ten classes): for any
other model the page keeps its map-based line (the class of the nearest test mean). The classifier's ONNX file
is derived like the decoders' (exported on first use, ~0.2 s, into the cache folder keyed by its weights' hash,
with its compressed copies), and the page fetches it once its decoder runs in WebAssembly. Its weights are stored
as int8 (model.store.onnx.int8_initializers: 0.25 MB instead of 0.67 MB, 0.23 MB brotli); its answer on the
Fashion-MNIST test set is the float classifier's for 99.78% of the images (tests/test_describe.py).
"""
from __future__ import annotations

import functools
import hashlib
import threading
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from model.data import FASHION_CLASSES
from model.serving.registry import LoadedModel
from model.store.companions import load_classifier
from model.store.onnx import cache_root, export_module

from .wire import precompress

CLASSIFIER_DIR = ".classifier"          # under the weights root (model/store/companions.py)
ONNX_NAME = "classifier.onnx"
_EXPORTING = threading.Lock()


class _Probabilities(torch.nn.Module):
    """image (N, 1, 28, 28) in [0, 1] -> class probabilities (N, classes): softmax of the logits."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)


def fits(m: LoadedModel) -> bool:
    """Whether the classifier can name this model's images: one channel, 28 x 28, Fashion-MNIST's classes."""
    c = m.config
    return c.channels == 1 and c.image_size == 28 and tuple(m.class_names[:10]) == FASHION_CLASSES


def classifier_onnx(folder: Path) -> Path:
    """The classifier's ONNX file (probabilities out, int8 weights), exported once per distinct weights."""
    h = hashlib.sha256()
    for name in sorted(p.name for p in folder.iterdir() if p.suffix in (".json", ".safetensors")):
        h.update(name.encode() + (folder / name).read_bytes())
    path = cache_root() / "onnx" / f"classifier-{h.hexdigest()[:32]}-q8" / ONNX_NAME          # q8: int8 weights
    with _EXPORTING:
        if not path.is_file():
            net = load_classifier(folder).eval()
            path.parent.mkdir(parents=True, exist_ok=True)
            # the decoders' exporter: one torch.onnx.export at a time in the process (its global state)
            export_module(_Probabilities(net), torch.zeros(1, 1, 28, 28), path, ["image"], ["p"], int8=True)
        precompress(path, quality=9)                      # ~0.1 s, as the decoders' copies
    return path


def classifier_info(weights_root: Path, m: LoadedModel) -> dict:
    """{url, classes} for the page's classifier of m's images, or {} when there is none for them."""
    folder = Path(weights_root) / CLASSIFIER_DIR
    if not fits(m) or not folder.is_dir():
        return {}
    return {"url": f"/gradio_api/file={classifier_onnx(folder)}", "classes": [*FASHION_CLASSES, "noise"]}


@functools.lru_cache(maxsize=2)
def _classifier(folder: Path):
    return load_classifier(folder).eval()


def phrase(name: str, p: float) -> str:
    """The words for one image, as the page says them too (assets/describe.js)."""
    pct, name = round(100 * p), name.lower()
    if name == "noise":
        return f"looks like noise, not clothing ({pct}%)"
    return f"looks like {'an' if name[0] in 'aeiou' else 'a'} {name} ({pct}%)"


@torch.inference_mode()
def captions(weights_root: Path, m: LoadedModel, images) -> list[str] | None:
    """What the classifier sees in each of m's images (PIL), or None when it cannot name them."""
    folder = Path(weights_root) / CLASSIFIER_DIR
    if not fits(m) or not folder.is_dir() or not images:
        return None
    size = (m.config.image_size,) * 2                  # images come upscaled (nearest): a box filter undoes that
    x = np.stack([np.asarray(im.convert("L").resize(size, Image.BOX), dtype=np.float32) / 255 for im in images])
    x = torch.from_numpy(x)[:, None]                                                          # (N, 1, 28, 28)
    p = torch.softmax(_classifier(folder)(x), dim=1)
    best, idx = p.max(dim=1)
    names = [*FASHION_CLASSES, "noise"]
    return [phrase(names[i], b) for b, i in zip(best.tolist(), idx.tolist(), strict=True)]
