"""The explore panel: one slider per latent dimension, the decoded image and a traversal of one
dimension painted live in the page, and the map of the test set with the star where the sliders are.

The sliders are native range inputs in one gr.HTML (assets/sliders.js, assets/ranges.js), not gr.Slider
components: a Gradio slider is a component of its own to mount (number box, status tracker, props), and
sixteen of them took most of the first view's main thread on a slow laptop. No server event reads them:
the page keeps z (assets/live.js), and the server sends z to them with `slider_value`.

The page decodes z itself (assets/live.js: ONNX Runtime Web on WebAssembly, the decoder exported by
model/store/onnx.py), so a drag costs the server nothing. The server sends z when it moves z (Reset,
Random, a map click, a sample, "Send μ"), and answers the page's fallback, `decode_pixels`, when
WebAssembly or the model file cannot load.
"""
from __future__ import annotations

import re
import time

import gradio as gr
import numpy as np

from model.nets.walk import TRAVERSAL
from model.serving import requests as ex
from model.serving.registry import LoadedModel, ModelRegistry
from model.store.weights import directions

from . import text
from .runtime import PageRuntime, content_url, page_rules
from .server import bind, user_errors

MAX_SLIDERS = 32                 # sliders shown at most; a larger model shows its 32 dimensions with the most KL
MAX_ATTRIBUTES = 10              # attribute sliders at most (model.analysis.attributes): z + amount * v, in the page
ATTRIBUTE_RANGE = 2.0
SLIDER_STEP = 0.05
MAP_TEMPLATE = "<div class='vae-map'><div class='vae-map-plot'></div><div class='vae-map-card'></div></div>"
TRAVERSAL_TEXT = f"z_d from {TRAVERSAL[0]:+g} to {TRAVERSAL[1]:+g}".replace("-", "−")
LIVE_TEMPLATE = ("<div class='vae-live'><div class='vae-live-label'>decoded image x = decoder(z)</div>"
                 "<canvas class='vae-decoded' role='img'></canvas>"
                 "<div class='vae-live-row'><span class='vae-status'>loading the decoder…</span>"
                 "<a class='vae-download' download='decoded.png' href='#'>download PNG</a></div>"
                 "<div class='vae-describe'></div><div class='vae-describe-live vae-sr-only' aria-live='polite'></div>"
                 f"<div class='vae-live-label'>traversal: {TRAVERSAL_TEXT}</div>"
                 "<canvas class='vae-traversal'></canvas>"
                 # the traversal's dimension: a native row as assets/ranges.js builds them (live.js sets its range)
                 "<div class='vae-range vae-trav' id='trav-dim'><label id='label-trav-dim' for='range-trav-dim'>"
                 f"traverse one dimension: {TRAVERSAL_TEXT}</label>"
                 "<input type='number' class='vae-range-number' aria-labelledby='label-trav-dim' min='0' max='1' "
                 "step='1' value='0'><input type='range' id='range-trav-dim' class='vae-range-track' min='0' "
                 "max='1' step='1' value='0'></div></div>")
SLIDERS_TEMPLATE = ("<div class='vae-sliders'><div class='vae-zsliders' role='group' aria-label='latent sliders: z'>"
                    "</div><p class='vae-attr-note teach' hidden></p>"
                    "<div class='vae-attrsliders' role='group' aria-label='attribute sliders'></div></div>")


def map_value(model: str, **markers) -> dict:
    """The map's value: the model and the markers that changed (slider, upload); map.js keeps the
    others, so moving a slider leaves the upload's diamond in place and vice versa (None removes one)."""
    return {"model": model, "markers": markers, "rules": page_rules()}


def next_seed(seed: int) -> int:
    return int(seed) + 1


class ExplorePanel:
    """Handlers are methods on the registry that return {component: update}; build() makes the
    components and wires them. Other panels move z through set_z and z_outputs."""

    def __init__(self, registry: ModelRegistry, runtime: PageRuntime) -> None:
        self.registry, self.runtime = registry, runtime

    # ------------------------------------------------------------ handlers
    def full_z(self, m: LoadedModel, z) -> list[float]:
        """A checked, clamped latent vector as the page keeps it (4 decimals)."""
        return np.round(ex.latent_vector(m, z).astype(float), 4).tolist()

    def slider_value(self, m: LoadedModel, z: list[float]) -> dict:
        """What the sliders show (assets/sliders.js): one per shown dimension (largest KL first) with its label
        and value, their range; the attribute sliders (at 0) with their notes, and the note above them (plain
        text: the page sets it as text). seq makes every value new, so the sliders move even when z is the
        same as the server's last (Reset twice, with a drag between)."""
        found = attribute_labels(m)
        return {"model": m.name, "limit": m.latent_limit, "step": SLIDER_STEP, "range": ATTRIBUTE_RANGE,
                "sliders": [{"label": text.slider_label(m, d), "value": z[d]} for d in m.dims_by_kl(MAX_SLIDERS)],
                "attributes": [{"name": n, "info": info} for n, info in found.items()],
                "note": re.sub(r"\*+", "", text.attributes_note(list(found))), "seq": time.monotonic_ns()}

    def live_value(self, m: LoadedModel, z: list[float]) -> dict:
        """What the page's decoder needs: the model, z, which dimension each slider shows, the image
        shape; seq makes every value new, so the page repaints even when z is the same as before."""
        c = m.config
        return {"model": m.name, "z": z, "dims": m.dims_by_kl(MAX_SLIDERS), "shape": [c.channels, c.image_size,
                c.image_size], "seq": time.monotonic_ns(), "limit": m.latent_limit, "rules": page_rules(),
                "attributes": [{"name": n, "v": np.round(v.astype(float), 5).tolist()}
                               for n, v in list(directions(m.atlas).items())[:MAX_ATTRIBUTES]]}

    @user_errors
    def set_z(self, model: str, z, **markers) -> dict:
        """Everything that shows z: the sliders, the page's decoder (image, traversal), the star."""
        m = self.registry.get(model)
        z = self.full_z(m, z)
        return {self.sliders: self.slider_value(m, z), self.live: self.live_value(m, z),
                self.map: map_value(model, slider=ex.place(m, z), **markers)}

    def reset(self, model: str) -> dict:
        return self.set_z(model, [0.0] * self.registry.get(model).dim)

    @user_errors
    def randomize(self, model: str, seed: int) -> dict:
        return self.set_z(model, ex.random_latent(self.registry.get(model), int(seed)))

    @user_errors
    def on_map_select(self, model: str, evt: gr.SelectData) -> dict:
        """A click on a map point (map.js triggers 'select' with the point's index)."""
        mu, _ = ex.pick(self.registry.get(model), evt.index)
        return self.set_z(model, mu)

    def refresh(self, model: str) -> dict:
        """A new model: z = 0, its sliders and attribute sliders, no upload marker, the note (live.js sets the
        traversal's range from z)."""
        m = self.registry.get(model)
        note = text.sliders_note(m, len(m.dims_by_kl(MAX_SLIDERS)))
        return {**self.set_z(model, [0.0] * m.dim, upload=None), self.note: gr.update(value=note, visible=bool(note))}

    # ------------------------------------------------------------ the page's server functions
    def map_points(self, model: str) -> dict:
        return ex.map_points(self.registry.get(model))

    def map_points_url(self, model: str) -> str:
        """map_points as a file the browser keeps (ui/runtime.content_url): what the page fetches."""
        return content_url(self.registry.get(model), "points", lambda: self.map_points(model))

    def hover_card(self, model, index=None) -> dict:
        if isinstance(model, (list, tuple)) and len(model) == 2:    # the JS bridge packs the arguments
            model, index = model
        return ex.hover_card(self.registry.get(model), index)

    # ------------------------------------------------------------ layout and events
    def build(self, model_dd: gr.Dropdown, default: LoadedModel) -> None:
        z0 = [0.0] * default.dim
        with gr.Row(equal_height=False, elem_id="main-row"):
            with gr.Column(scale=3, min_width=300):
                self.live = self.runtime.html(self.live_value(default, z0), LIVE_TEMPLATE, "live.js", "live")
                with gr.Row():
                    reset_btn = gr.Button("Reset z = 0", size="sm")
                    random_btn = gr.Button("Random z ~ N(0, I)", size="sm", variant="primary")
                    random_seed = gr.Number(0, visible=False, precision=0)
            self._slider_column(default)
            with gr.Column(scale=5, min_width=360):
                self.map = self.runtime.html(map_value(default.name, slider=ex.place(default, z0)), MAP_TEMPLATE,
                                             "map.js", "latent-map",
                                             extra_functions=[bind(ExplorePanel.map_points_url, self),
                                                              bind(ExplorePanel.hover_card, self)])
                gr.Markdown(text.TEACH["map"], elem_classes="teach")
        self.model_dd = model_dd
        self.z_outputs = [self.sliders, self.live, self.map]
        self.refresh_outputs = [*self.z_outputs, self.note]
        # a slider drag has no server event: live.js decodes in the page (or asks decode_pixels)
        reset_btn.click(self.reset, model_dd, self.z_outputs, api_visibility="private")
        random_btn.click(next_seed, random_seed, random_seed, api_visibility="private").then(
            self.randomize, [model_dd, random_seed], self.z_outputs, api_visibility="private")
        self.map.select(self.on_map_select, model_dd, self.z_outputs, api_visibility="private")

    def _slider_column(self, default: LoadedModel) -> None:
        """The latent sliders, then the attribute sliders (z first, then moves through it): one gr.HTML."""
        dims = default.dims_by_kl(MAX_SLIDERS)
        with gr.Column(scale=3, min_width=260, elem_id="slider-col"):
            gr.Markdown(text.TEACH["sliders"], elem_classes="teach")
            note = text.sliders_note(default, len(dims))
            self.note = gr.Markdown(note, visible=bool(note), elem_id="sliders-note")
            self.sliders = self.runtime.html(self.slider_value(default, [0.0] * default.dim), SLIDERS_TEMPLATE,
                                             "sliders.js", "latent-sliders", functions=False)


def attribute_labels(m: LoadedModel) -> dict[str, str | None]:
    """name -> note of the directions that get a slider (the first MAX_ATTRIBUTES; model.analysis.attributes)."""
    notes = [str(n) for n in m.atlas.get("attribute_notes", [])]
    return {n: notes[i] if i < len(notes) else None for i, n in enumerate(list(directions(m.atlas))[:MAX_ATTRIBUTES])}
