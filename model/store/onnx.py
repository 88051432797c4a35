"""ONNX exports of a model's decoder and encoder, for running them in the browser (ONNX Runtime Web).

    python -m model export weights/fashion-mnist [--out DIR]   # writes DIR/decoder.onnx, DIR/encoder.onnx

An export is derived from model.safetensors like a build output, so it is not committed: the app
exports on first use into a cache keyed by the weights' hash (`cached_decoder`, `cached_encoder`),
where a changed model.safetensors or config.json gets a fresh file. Weights stored as float16 (the shipped
models) go into the graph as float16 initializers, each followed by a Cast to float32 (`halve_initializers`):
half the bytes for the page to fetch, and the very same numbers, since the float32 copy of a float16 weight
is exact and torch computes with that copy too. A model with a decoder only (no encoder half, e.g. a GAN's
generator) exports its decoder and no encoder (`has_encoder`). The decoder's graph includes the
sigmoid: it maps z (N, D) float32 to images (N, C, H, W) in [0, 1], exactly like ConvVAE.decode. The
encoder maps images (N, C, H, W) in [0, 1] to "mu" (N, D) and, for a VAE, "logvar" (N, D), clamped
like DiagonalGaussian; an autoencoder or a VQ-VAE has no variance, so its graph outputs mu alone
(for a VQ-VAE, the code snapped to the codebook, as ConvVAE.encode returns it).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import torch

from ..cli import run
from ..nets.kinds import kind_of
from ..nets.limits import ExplorerError
from ..nets.vae import NO_ENCODER, ConvVAE, has_encoder
from .weights import CONFIG_NAME, WEIGHTS_NAME, WeightsError, atomic_write, load_vae

OPSET = 17
# torch.onnx.export keeps global state (GLOBALS.in_onnx_export): two exports at once in one process fail,
# as they would when a page asks for a model's decoder and encoder together. One export at a time.
_EXPORTING = threading.RLock()
DECODER_NAME = "decoder.onnx"
ENCODER_NAME = "encoder.onnx"


class _Decode(torch.nn.Module):
    """ConvVAE.decode as a module: torch.onnx traces forward()."""

    def __init__(self, vae: ConvVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(z)


class _Encode(torch.nn.Module):
    """ConvVAE.encode as a module: mu and logvar (clamped), or mu alone when there is no variance."""

    def __init__(self, vae: ConvVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor):
        mu, logvar = self.vae.encode(x)
        return mu if logvar is None else (mu, logvar)


def encoder_outputs(vae: ConvVAE) -> list[str]:
    """The encoder graph's outputs: ["mu", "logvar"] for a VAE, ["mu"] for an autoencoder or VQ-VAE."""
    return ["mu", "logvar"] if kind_of(vae).has_sigma else ["mu"]


HALF_MIN_SIZE = 64               # initializers smaller than this stay float32: a Cast node costs more bytes


def halve_initializers(model) -> int:
    """Store every float32 initializer of an onnx.ModelProto whose values are all exact float16 numbers (weights
    saved as float16, then loaded as float32) as float16, with a Cast back to float32 under its old name, so the
    graph computes exactly what it did. Values the exporter folded (not exact in float16) stay float32. Returns
    how many were halved."""
    from onnx import TensorProto, helper, numpy_helper

    casts = []
    for init in model.graph.initializer:
        if init.data_type != TensorProto.FLOAT or np.prod(init.dims, dtype=np.int64) < HALF_MIN_SIZE:
            continue
        w = numpy_helper.to_array(init)
        h = w.astype(np.float16)
        if not np.array_equal(h.astype(np.float32), w):
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(h, f"{name}__f16"))
        casts.append(helper.make_node("Cast", [f"{name}__f16"], [name], to=TensorProto.FLOAT, name=f"{name}__cast"))
    nodes = casts + list(model.graph.node)              # the casts first: before every node that reads them
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return len(casts)


def int8_initializers(model) -> int:
    """Store every float32 weight of an onnx.ModelProto (two or more axes, HALF_MIN_SIZE values or more) as int8
    with one scale per output channel (axis 0: symmetric, largest |w| -> 127), and a DequantizeLinear back to
    float32 under its old name: a quarter of the bytes, each weight within half a step (scale / 2) of its value.
    The graph still computes in float32. Not exact, unlike halve_initializers: for a model whose answers are
    checked to stay the same (the page's classifier, tests/test_describe.py). Returns how many were stored."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = []
    for init in model.graph.initializer:
        if init.data_type != TensorProto.FLOAT or len(init.dims) < 2 or np.prod(init.dims) < HALF_MIN_SIZE:
            continue
        w = numpy_helper.to_array(init)
        top = np.abs(w.reshape(len(w), -1)).max(axis=1)
        scale = np.where(top > 0, top / 127, 1.0).astype(np.float32)                      # (out,)
        q = np.clip(np.rint(w / scale.reshape(-1, *[1] * (w.ndim - 1))), -127, 127).astype(np.int8)
        name = init.name
        init.CopyFrom(numpy_helper.from_array(q, f"{name}__q8"))
        model.graph.initializer.append(numpy_helper.from_array(scale, f"{name}__scale"))
        model.graph.initializer.append(numpy_helper.from_array(np.zeros(len(w), np.int8), f"{name}__zero"))
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}__q8", f"{name}__scale", f"{name}__zero"], [name],
                                      axis=0, name=f"{name}__dequantize"))
    if nodes:
        rest = list(model.graph.node)
        del model.graph.node[:]
        model.graph.node.extend(nodes + rest)              # before every node that reads them
    return len(nodes)


def export_module(module: torch.nn.Module, example: torch.Tensor, path, inputs: list[str], outputs: list[str],
                  int8: bool = False) -> Path:
    """Write module as ONNX (float32 in and out, float16-exact weights stored as float16, dynamic batch,
    opset 17), atomically; every export in the process goes through here (one at a time). int8=True stores its
    weights as int8 instead (int8_initializers: a quarter of float32's bytes, not exact)."""
    import onnx

    def write(tmp):
        with _EXPORTING, warnings.catch_warnings():        # the legacy exporter's advice to try dynamo=True
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example,), tmp, input_names=inputs, output_names=outputs,
                              dynamic_axes={n: {0: "batch"} for n in inputs + outputs}, opset_version=OPSET,
                              dynamo=False)
        graph = onnx.load(tmp)
        if int8_initializers(graph) if int8 else halve_initializers(graph):
            onnx.save(graph, tmp)
    atomic_write(path, write)
    return Path(path)


def export_decoder(vae: ConvVAE, path: str | os.PathLike) -> Path:
    """Write the decoder as ONNX: z (N, D) -> image (N, C, H, W) in [0, 1]."""
    vae = vae.eval().float()
    return export_module(_Decode(vae), torch.zeros(1, vae.config.latent_dim), path, ["z"], ["image"])


def export_encoder(vae: ConvVAE, path: str | os.PathLike) -> Path:
    """Write the encoder as ONNX: image (N, C, H, W) in [0, 1] -> mu (N, D) [and logvar (N, D)]. A GAN has none."""
    if not has_encoder(vae):
        raise ExplorerError(NO_ENCODER)
    vae = vae.eval().float()
    c = vae.config
    x = torch.full((1, c.channels, c.image_size, c.image_size), 0.5)
    return export_module(_Encode(vae), x, path, ["image"], encoder_outputs(vae))


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


EXPORT_FORMAT = "f16"            # in the cache's key: files exported before float16 initializers are not reused


def export_key(directory: str | os.PathLike) -> str:
    """The cache folder's name for a weights folder's exports: its weights' hash and the export format."""
    return f"{weights_hash(directory)[:32]}-{EXPORT_FORMAT}"


def _cached(directory, vae, name: str, export) -> Path:
    path = cache_root() / "onnx" / export_key(directory) / name
    if not path.is_file():
        with _EXPORTING:
            if not path.is_file():                     # another request may have exported it meanwhile
                export(vae if vae is not None else load_vae(directory), path)
    return path


def cached_decoder(directory: str | os.PathLike, vae: ConvVAE | None = None) -> Path:
    """The decoder's ONNX file for a weights folder: exported once per distinct weights (0.1-0.3 s)."""
    return _cached(directory, vae, DECODER_NAME, export_decoder)


def cached_encoder(directory: str | os.PathLike, vae: ConvVAE | None = None) -> Path:
    """The encoder's ONNX file for a weights folder, beside the decoder's."""
    return _cached(directory, vae, ENCODER_NAME, export_encoder)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m model export", description=__doc__.splitlines()[0])
    p.add_argument("weights", help="a model folder, e.g. weights/fashion-mnist")
    p.add_argument("--out", default=None,
                   help="folder to write decoder.onnx and encoder.onnx into (default: the model folder)")
    a = p.parse_args(argv)

    def export() -> str:
        vae, out = load_vae(a.weights), Path(a.out or a.weights)
        paths = [export_decoder(vae, out / DECODER_NAME)]
        if has_encoder(vae):                           # a decoder-only model (a GAN) has no encoder half
            paths.append(export_encoder(vae, out / ENCODER_NAME))
        return "wrote " + ", ".join(f"{p} ({p.stat().st_size / 1e6:.1f} MB)" for p in paths)
    return run(export, WeightsError)
