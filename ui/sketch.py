"""The sketch pad: draw with a mouse, a pen or a finger, and watch the encoder's Gaussian move while you
draw. Everything runs in the page (assets/sketch.js): the drawing is reduced to the model's own pixels,
encoded by the ONNX encoder (model/store/onnx.py) in WebAssembly, its μ decoded for the reconstruction, and
the diamond with its μ ± 2σ cloud placed on the map by the server's rule (place.js). "Send μ to sliders"
moves the sliders in the page too. No request reaches the server to encode the drawing; when WebAssembly cannot
run, the runtime's `encode_pixels` is the fallback (ui/runtime.py). Uploads stay on the Encode and "Is this
typical?" tabs (the server checks them).

How typical the drawing is (the "Is this typical?" tab's scores) needs the decoder eight times over and a PNG
compressor, so the server judges it: sketch.js sends the drawing's pixels (the ones it encoded) to
`typicality_pixels` at most every TYPICAL_DELAY_MS while the drawing changes, and once more after the last change,
and shows the verdict and both percentiles in a line under the pad: the numbers /typicality gives for a PNG of the
same pixels.
"""
from __future__ import annotations

import time

import gradio as gr

from model.nets.kinds import kind_of
from model.serving import typicality as st
from model.serving.registry import LoadedModel, ModelRegistry

from . import text
from .runtime import PageRuntime, page_rules
from .server import bind

TYPICAL_DELAY_MS = 400           # the pad asks how typical the drawing is at most this often

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
    "<div class='vae-sketch-typical' aria-live='polite'>how typical is it: draw something</div>"
    "<canvas class='vae-sketch-chart' width='640' height='220' role='img' "
    "aria-label='the encoder output per dimension'></canvas>"
    "<div class='vae-sketch-row'><button class='vae-sketch-send' type='button' disabled>Send μ to sliders</button>"
    "<span class='vae-sketch-status'>loading the encoder…</span></div></div>")


class SketchView:
    """The Draw tab: one gr.HTML running assets/sketch.js; the server only names the model, its encoder
    file and, for the fallback, encodes the page's pixels."""

    def __init__(self, registry: ModelRegistry, runtime: PageRuntime) -> None:
        self.registry, self.runtime = registry, runtime

    def value(self, m: LoadedModel) -> dict:
        """What sketch.js needs: the model, its image shape, its background (ink is the opposite) and
        whether its encoder has a σ at all (an autoencoder's or a VQ-VAE's has not)."""
        c = m.config
        return {"model": m.name, "shape": [c.channels, c.image_size, c.image_size], "background": c.background,
                "sigma": kind_of(c).has_sigma, "dim": m.dim, "rules": page_rules(), "seq": time.monotonic_ns(),
                "limit": m.latent_limit,         # the chart's range: the sliders'
                "typical": {"delay_ms": TYPICAL_DELAY_MS, "note": self.typical_note(m)}}

    @staticmethod
    def typical_note(m: LoadedModel) -> str | None:
        """Why this model cannot say how typical a drawing is (None: it can): the pad then asks nothing."""
        why = st.cannot_judge(m)
        return f"how typical is it: {why}" if why else None

    def typicality_pixels(self, args) -> dict:
        """[model, base64 uint8 pixels (C, H, W)] (checked as encode_pixels checks them) -> the verdict, both
        scores and their percentiles, and the line the pad shows; {"note"} for a model that cannot judge."""
        m, x8 = self.runtime.drawn_pixels(args)
        note = self.typical_note(m)
        if note:
            return {"note": note}
        r = st.judge_pixels(m, x8[0], iwae=False, heat=False)
        keys = ("neg_elbo", "neg_elbo_percentile", "score", "score_percentile", "verdict", "why")
        return {k: r[k] for k in keys} | {"line": f"how typical is it: {text.typical_line(r)}"}

    def refresh(self, model: str) -> dict:
        return {self.html: self.value(self.registry.get(model))}

    # ------------------------------------------------------------ layout
    def build(self, default: LoadedModel) -> gr.HTML:
        self.html = self.runtime.html(self.value(default), SKETCH_TEMPLATE, "sketch.js", "sketch",
                                      extra_functions=[bind(SketchView.typicality_pixels, self)])
        self.refresh_outputs = [self.html]
        return self.html
