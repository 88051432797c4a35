"""ONNX exports of a model's decoder, for decoding in the browser (ONNX Runtime Web).

    python -m model.export weights/fashion-mnist [--out DIR]      # writes DIR/decoder.onnx

An export is derived from model.safetensors like a build output, so it is not committed: the app
exports on first use into a cache keyed by the weights' hash (`cached_decoder`), where a changed
model.safetensors or config.json gets a fresh file. The ONNX graph includes the sigmoid: it maps
z (N, D) float32 to images (N, C, H, W) in [0, 1], exactly like ConvVAE.decode.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import warnings
from pathlib import Path

import torch

from .cli import run
from .io import CONFIG_NAME, WEIGHTS_NAME, WeightsError, atomic_write, load_vae
from .vae import ConvVAE

OPSET = 17
DECODER_NAME = "decoder.onnx"


class _Decode(torch.nn.Module):
    """ConvVAE.decode as a module: torch.onnx traces forward()."""

    def __init__(self, vae: ConvVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(z)


def export_decoder(vae: ConvVAE, path: str | os.PathLike) -> Path:
    """Write the decoder as ONNX (float32, dynamic batch, opset 17), atomically."""
    vae = vae.eval().float()
    z = torch.zeros(1, vae.config.latent_dim)

    def write(tmp):
        with warnings.catch_warnings():          # the legacy exporter's advice to try dynamo=True
            warnings.simplefilter("ignore")
            torch.onnx.export(_Decode(vae), (z,), tmp, input_names=["z"], output_names=["image"],
                              dynamic_axes={"z": {0: "batch"}, "image": {0: "batch"}}, opset_version=OPSET,
                              dynamo=False)
    atomic_write(path, write)
    return Path(path)


def weights_hash(directory: str | os.PathLike) -> str:
    """sha256 of config.json and model.safetensors: the key of a folder's derived files."""
    h = hashlib.sha256()
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        with open(Path(directory) / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def cache_root() -> Path:
    """$VAE_CACHE_DIR, else $XDG_CACHE_HOME/vae-latent-explorer, else ~/.cache/vae-latent-explorer."""
    if os.environ.get("VAE_CACHE_DIR"):
        return Path(os.environ["VAE_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vae-latent-explorer"


def cached_decoder(directory: str | os.PathLike, vae: ConvVAE | None = None) -> Path:
    """The decoder's ONNX file for a weights folder: exported once per distinct weights (0.1-0.3 s)."""
    path = cache_root() / "onnx" / weights_hash(directory)[:32] / DECODER_NAME
    if not path.is_file():
        export_decoder(vae if vae is not None else load_vae(directory), path)
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.export", description=__doc__.splitlines()[0])
    p.add_argument("weights", help="a model folder, e.g. weights/fashion-mnist")
    p.add_argument("--out", default=None, help="folder to write decoder.onnx into (default: the model folder)")
    a = p.parse_args(argv)

    def export() -> str:
        path = export_decoder(load_vae(a.weights), Path(a.out or a.weights) / DECODER_NAME)
        return f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)"
    return run(export, WeightsError)


if __name__ == "__main__":
    sys.exit(main())
