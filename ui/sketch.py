"""The sketch pad: draw with a mouse, a pen or a finger, and watch the encoder's Gaussian move while you
draw. Everything runs in the page (assets/sketch.js): the drawing is reduced to the model's own pixels,
encoded by the ONNX encoder (model/nets/onnx.py) in WebAssembly, its μ decoded for the reconstruction, and
the diamond with its μ ± 2σ cloud placed on the map by the server's rule (place.js). "Send μ to sliders"
moves the sliders in the page too. No request reaches the server while drawing; when WebAssembly cannot
run, `encode_pixels` is the fallback. Uploads stay on the Encode tab (the server checks them).
"""
from __future__ import annotations

import base64
import binascii
import time

import gradio as gr
import numpy as np
import torch

from model.nets.limits import ExplorerError
from model.nets.onnx import cached_encoder
from model.serving.registry import LoadedModel, ModelRegistry

from .explore import ORT_URL, ExplorePanel
from .server import ASSETS, bind

SKETCH_TEMPLATE = (
    "<div class='vae-sketch'><div class='vae-sketch-row'>"
    "<div class='vae-sketch-padbox'><canvas class='vae-sketch-pad' role='img' tabindex='0' "
    "aria-label='sketch pad: draw with a mouse, a pen or a finger'></canvas>"
    "<div class='vae-sketch-tools'>"
    "<label>brush <input class='vae-sketch-brush' type='range' min='1' max='6' step='0.5' value='2.5' "
    "aria-label='brush size in model pixels'></label>"
    "<label class='vae-sketch-ink-label'>ink <input class='vae-sketch-ink' type='color' value='#000000'></label>"
    "<button class='vae-sketch-eraser' type='button' aria-pressed='false'>Eraser</button>"
    "<button class='vae-sketch-clear' type='button'>Clear</button></div></div>"
    "<figure><canvas class='vae-sketch-input' role='img' aria-label='what the encoder sees'></canvas>"
    "<figcaption>what the encoder sees</figcaption></figure>"
    "<figure><canvas class='vae-sketch-recon' role='img' aria-label='reconstruction: decoder(μ)'></canvas>"
    "<figcaption>reconstruction: decoder(μ)</figcaption></figure>"
    "<figure><canvas class='vae-sketch-map' width='336' height='336' role='img' "
    "aria-label='where μ lands on the map'></canvas><figcaption>where μ lands on the map</figcaption>"
    "</figure></div>"
    "<canvas class='vae-sketch-chart' width='640' height='220' role='img' "
    "aria-label='the encoder output per dimension'></canvas>"
    "<div class='vae-sketch-row'><button class='vae-sketch-send' type='button' disabled>Send μ to sliders</button>"
    "<span class='vae-sketch-status'>loading the encoder…</span></div></div>")


class SketchView:
    """The Draw tab: one gr.HTML running assets/sketch.js; the server only names the model, its encoder
    file and, for the fallback, encodes the page's pixels."""

    def __init__(self, registry: ModelRegistry, explore: ExplorePanel | None) -> None:
        self.registry, self.explore = registry, explore

    def value(self, m: LoadedModel) -> dict:
        """What sketch.js needs: the model, its image shape, its background (ink is the opposite) and
        whether its encoder has a σ at all (an autoencoder's or a VQ-VAE's has not)."""
        c = m.config
        return {"model": m.name, "shape": [c.channels, c.image_size, c.image_size], "background": c.background,
                "sigma": c.kind == "vae", "dim": m.dim, "ort": ORT_URL, "seq": time.monotonic_ns(),
                "limit": m.latent_limit}         # the chart's range: the sliders'

    def refresh(self, model: str) -> list:
        return [self.value(self.registry.get(model))]

    # ------------------------------------------------------------ the page's server functions
    def encoder_url(self, model: str) -> str:
        """Where the page fetches the model's encoder (ONNX), exported on first use beside the decoder."""
        m = self.registry.get(model)
        return f"/gradio_api/file={cached_encoder(m.path, m.vae)}"

    @torch.inference_mode()
    def encode_pixels(self, args) -> dict:
        """The fallback encoder: [model, base64 uint8 pixels (C, H, W)] -> {mu, logvar (None: no σ)}."""
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
        x = torch.from_numpy(np.frombuffer(raw, dtype=np.uint8).reshape(shape).astype(np.float32) / 255)
        mu, logvar = m.vae.encode(x)
        return {"mu": mu[0].tolist(), "logvar": None if logvar is None else logvar[0].tolist()}

    # ------------------------------------------------------------ layout
    def build(self, default: LoadedModel) -> gr.HTML:
        functions = [bind(SketchView.encoder_url, self), bind(SketchView.encode_pixels, self)]
        self.html = gr.HTML(self.value(default), html_template=SKETCH_TEMPLATE, elem_id="sketch",
                            js_on_load=(ASSETS / "sketch.js").read_text(), apply_default_css=False,
                            server_functions=self.explore.decoder_functions() + functions)
        self.refresh_outputs = [self.html]
        return self.html
