"""The in-page runtime: what every panel that decodes, encodes or places z in the browser declares.

The page runs the decoder and the encoder itself (ONNX Runtime Web on WebAssembly, vendored under
assets/vendor) and places points on the map by the server's rule; the server hands it the model files,
the atlas, the rules' numbers, and answers its fallbacks when WebAssembly cannot run. A panel builds
its gr.HTML with `PageRuntime.html(...)`: the `head` scripts (Gradio loads each once, before any
js_on_load) and the server functions come with it, so no panel relies on another having loaded them.

    assets/page.js     page state, measurement counters and the vae:* events (the list of them)
    assets/bridge.js   the one place that reads Gradio's DOM and Plotly's private layout
    assets/ranges.js   native sliders (a label, a number box, a range): the latent, attribute and traversal ones
    assets/runtime.js  ONNX Runtime Web: sessions, decode, encode, the server fallback, timeouts
    assets/paint.js    pixels onto canvases        assets/latent.js  lerp, slerp, traversal rows
    assets/place.js    where z lands on the map (k nearest means)
    assets/describe.js the decoded image in words (the classifier, ui/describe.py)
    assets/a11y.js     names and roles that Gradio's components lack, set as they mount

Rules both sides apply are numbers owned by Python (`page_rules`, the atlas's k and eps) and sent with
each model; tests/test_parity.py checks that the page and Python agree.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Callable

import gradio as gr
import numpy as np
import torch

from model.nets.limits import ExplorerError
from model.nets.vae import NO_ENCODER, has_encoder
from model.nets.walk import SLERP_MIN_ANGLE, SLERP_MIN_NORM, traversal_values
from model.serving import requests as ex
from model.serving.registry import LoadedModel, ModelRegistry
from model.store.onnx import cache_root, cached_decoder, cached_encoder
from model.store.pictures import base64_of, to_uint8
from model.store.weights import atomic_write

from .charts import PALETTE
from .describe import classifier_info
from .server import ASSETS, ORT_DIR, PLOTLY_JS, bind
from .wire import precompress

MODULES = ("page.js", "bridge.js", "ranges.js", "runtime.js", "paint.js", "latent.js", "place.js",    # in load order
           "describe.js", "a11y.js")
ORT_URL = f"/gradio_api/file={ORT_DIR}/"    # names the version: cached for good (ui/wire.py)
MAX_DECODE = 64                  # z per fallback request (a frame needs 10: z and its traversal)
LOAD_TIMEOUT_S = 30              # a runtime or model file that has not loaded by then will not: say so


def asset_url(name: str) -> str:
    return f"/gradio_api/file={ASSETS / name}"


HEAD = "".join(f"<script src='{asset_url(name)}'></script>" for name in MODULES)
PLOTLY_URL = f"/gradio_api/file={PLOTLY_JS}"               # the `plotly` package's bundle
PLOTLY_HEAD = f"<script src='{PLOTLY_URL}'></script>"     # for a component that draws with it at once


def page_rules() -> dict:
    """The numbers of the rules the page applies as Python does (model.nets.walk: the traversal's values,
    slerp's guards; the map's palette), and where the page loads ONNX Runtime Web from."""
    return {"traversal": traversal_values(),
            "slerp": {"min_norm": SLERP_MIN_NORM, "min_angle": SLERP_MIN_ANGLE},
            "palette": list(PALETTE), "ort": ORT_URL, "load_timeout_s": LOAD_TIMEOUT_S}


ONNX_BROTLI = 9                  # an ONNX file's copy is made when the page first asks for it: ~0.1 s here
DATA_BROTLI = 9                  # the same for a model's data files (content_url): ~0.05 s for the largest atlas


def content_url(m: LoadedModel, name: str, payload: Callable[[], dict]) -> str:
    """The URL of a JSON file holding payload(), named by its content's hash, in the folder the page caches for
    good (ui/wire.py): what the page fetches once and a reload takes from the browser's cache, where a server
    function's POST answer would be fetched again. Built and written (with its compressed copies) once per
    loaded model; later calls answer the stored URL."""
    key = f"url:{name}"
    if key not in m.cache:
        data = json.dumps(payload(), separators=(",", ":")).encode()
        path = cache_root() / "onnx" / "data" / f"{name}-{hashlib.sha256(data).hexdigest()[:32]}.json"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
        precompress(path, quality=DATA_BROTLI)
        m.cache[key] = f"/gradio_api/file={path}"
    return m.cache[key]


def file_url(onnx_file) -> str:
    """The URL of an exported ONNX file, its compressed copies made beside it first (once)."""
    precompress(onnx_file, quality=ONNX_BROTLI)
    return f"/gradio_api/file={onnx_file}"


class PageRuntime:
    """The server functions behind the in-page runtime, one set for every panel that uses it."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def decoder_url(self, model: str) -> str:
        """Where the page fetches the model's decoder (ONNX), exported on first use (0.1-0.3 s) with its
        compressed copies (ui/wire.py: the file's folder is the weights' hash, so it is cached for good)."""
        m = self.registry.get(model)
        return file_url(cached_decoder(m.path, m.vae))

    def encoder_url(self, model: str) -> str:
        """Where the page fetches the model's encoder (ONNX), exported on first use beside the decoder."""
        m = self.registry.get(model)
        if not has_encoder(m.vae):
            raise ExplorerError(NO_ENCODER)
        return file_url(cached_encoder(m.path, m.vae))

    def atlas_means(self, model: str) -> dict:
        """The test set's means and map positions, for placing z in the page by the server's own rule
        (model.nets.placement.MapIndex: k nearest means, inverse-distance weighted), with its k and eps."""
        m = self.registry.get(model)
        index = m.map_index
        out = {"method": index.method, "k": index.k, "eps": index.eps, "n": len(index.xy)}
        out |= {"dim": int(index.means.shape[1]), "means": base64_of(index.means, "<f4")}   # also the nearest class
        if index.method != "plane":
            out |= {"xy": base64_of(index.xy, "<f4")}
        labels = np.asarray(m.atlas["labels"]).clip(0, 255).astype(np.uint8)            # the decoded image's text
        return out | {"labels": base64_of(labels), "classes": m.class_names}

    def atlas_means_url(self, model: str) -> str:
        """atlas_means as a file the browser keeps (content_url): what the page fetches."""
        return content_url(self.registry.get(model), "atlas", lambda: self.atlas_means(model))

    def decode_pixels(self, args) -> dict:
        """The page's fallback decoder: [model, z vectors] -> uint8 pixels (N, C, H, W), base64."""
        if not isinstance(args, (list, tuple)) or len(args) != 2:
            raise ExplorerError("send [model, [z, ...]]")
        model, zs = args
        m = self.registry.get(model)
        if not isinstance(zs, list) or not 1 <= len(zs) <= MAX_DECODE:
            raise ExplorerError(f"send 1 to {MAX_DECODE} latent vectors")
        z = torch.from_numpy(np.stack([ex.latent_vector(m, v) for v in zs]))
        with torch.inference_mode():
            x = to_uint8(m.vae.decode(z)).numpy()
        return {"shape": list(x.shape), "data": base64_of(x)}

    def drawn_pixels(self, args) -> tuple[LoadedModel, np.ndarray]:
        """[model, base64 uint8 pixels (C, H, W)], as the sketch pad sends them -> the model and the pixels
        (1, C, H, W), uint8; anything else is refused before it is decoded."""
        if not isinstance(args, (list, tuple)) or len(args) != 2 or not isinstance(args[1], str):
            raise ExplorerError("send [model, base64 pixels]")
        model, data = args
        m = self.registry.get(model)
        c = m.config
        shape = (1, c.channels, c.image_size, c.image_size)
        n = int(np.prod(shape))
        if len(data) > 4 * (n + 2) // 3 + 4:                # checked before decoding anything
            raise ExplorerError(f"the drawing has more than the {n} pixels this model takes")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ExplorerError("the drawing's pixels are not base64") from None
        if len(raw) != n:
            raise ExplorerError(f"the drawing has {len(raw)} pixels; this model takes {n}")
        return m, np.frombuffer(raw, dtype=np.uint8).reshape(shape).copy()     # writable, for torch

    @torch.inference_mode()
    def encode_pixels(self, args) -> dict:
        """The fallback encoder: [model, base64 uint8 pixels (C, H, W)] -> {mu, logvar (None: no σ)}."""
        m, x8 = self.drawn_pixels(args)
        x = torch.from_numpy(x8.astype(np.float32) / 255)
        mu, logvar = m.vae.encode(x)
        return {"mu": mu[0].tolist(), "logvar": None if logvar is None else logvar[0].tolist()}

    def classifier_url(self, model: str) -> dict:
        """{url, classes}: the classifier the page names the decoded image with (ui/describe.py), or {}."""
        return classifier_info(self.registry.root, self.registry.get(model))

    def functions(self) -> list:
        """Every server function the runtime may call, bound to this registry."""
        return [bind(fn, self) for fn in (PageRuntime.decoder_url, PageRuntime.encoder_url, PageRuntime.atlas_means_url,
                                          PageRuntime.decode_pixels, PageRuntime.encode_pixels,
                                          PageRuntime.classifier_url)]

    def html(self, value, template: str, script: str, elem_id: str, extra_functions=(), head: str = "",
             functions: bool = True) -> gr.HTML:
        """A gr.HTML that runs assets/`script` with the runtime loaded before it and its server functions
        (none with functions=False: a component that only shows what it is sent)."""
        served = self.functions() + list(extra_functions) if functions else []
        return gr.HTML(value, html_template=template, elem_id=elem_id, js_on_load=(ASSETS / script).read_text(),
                       head=HEAD + head, server_functions=served or None, apply_default_css=False)
