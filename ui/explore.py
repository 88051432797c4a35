"""The explore panel: one slider per latent dimension, the decoded image and a traversal of one
dimension painted live in the page, and the map of the test set with the star where the sliders are.

The page decodes z itself (assets/live.js: ONNX Runtime Web on WebAssembly, the decoder exported by
model/nets/onnx.py), so a drag costs the server nothing. The server sends z when it moves z (Reset,
Random, a map click, a sample, "Send μ"), and answers the page's fallback, `decode_pixels`, when
WebAssembly or the model file cannot load.
"""
from __future__ import annotations

import base64
import time

import gradio as gr
import numpy as np
import torch

from model.nets.onnx import cached_decoder
from model.nets.pictures import to_uint8
from model.nets.weights import directions
from model.serving import requests as ex
from model.serving.registry import LoadedModel, ModelRegistry

from . import text
from .server import ASSETS, PLOTLY_JS, bind, user_errors

MAX_SLIDERS = 32                 # sliders built; a larger model shows its 32 dimensions with the most KL
MAX_ATTRIBUTES = 10              # attribute sliders built (model.attributes): z + amount * v, live in the page
ATTRIBUTE_RANGE = 2.0
MAP_TEMPLATE = "<div class='vae-map'><div class='vae-map-plot'></div><div class='vae-map-card'></div></div>"
LIVE_TEMPLATE = ("<div class='vae-live'><div class='vae-live-label'>decoded image x = decoder(z)</div>"
                 "<canvas class='vae-decoded' role='img'></canvas>"
                 "<div class='vae-live-row'><span class='vae-status'>loading the decoder…</span>"
                 "<a class='vae-download' download='decoded.png' href='#'>download PNG</a></div>"
                 "<div class='vae-live-label'>traversal: z_d from −3 to +3</div>"
                 "<canvas class='vae-traversal'></canvas></div>")
PAGE_MODULES = ("runtime.js", "paint.js", "place.js")     # assets/ loaded once, before live.js and map.js
MAX_DECODE = 64                  # z per fallback request (a frame needs 10: z and its traversal)
ORT_URL = f"/gradio_api/file={ASSETS / 'vendor' / 'onnxruntime-web'}/"


def map_value(model: str, **markers) -> dict:
    """The map's value: the model and the markers that changed (slider, upload); map.js keeps the
    others, so moving a slider leaves the upload's diamond in place and vice versa (None removes one)."""
    return {"model": model, "markers": markers}


def next_seed(seed: int) -> int:
    return int(seed) + 1


class ExplorePanel:
    """Handlers are methods on the registry, so tests call them without a page; build() makes the
    components and wires them. Other panels move z through set_z and z_outputs."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    # ------------------------------------------------------------ handlers
    def full_z(self, m: LoadedModel, z) -> list[float]:
        """A checked, clamped latent vector as the page keeps it (4 decimals)."""
        return np.round(ex.latent_vector(m, z).astype(float), 4).tolist()

    def slider_updates(self, m: LoadedModel, z: list[float]) -> list:
        dims = m.dims_by_kl(MAX_SLIDERS)
        lim = m.latent_limit
        ups = [gr.update(visible=True, value=z[d], label=text.slider_label(m, d), minimum=-lim, maximum=lim)
               for d in dims]
        return ups + [gr.update(visible=False, value=0) for _ in range(MAX_SLIDERS - len(dims))]

    def live_value(self, m: LoadedModel, z: list[float]) -> dict:
        """What the page's decoder needs: the model, z, which dimension each slider shows, the image
        shape; seq makes every value new, so the page repaints even when z is the same as before."""
        c = m.config
        return {"model": m.name, "z": z, "dims": m.dims_by_kl(MAX_SLIDERS), "shape": [c.channels, c.image_size,
                c.image_size], "seq": time.monotonic_ns(), "limit": m.latent_limit, "ort": ORT_URL,
                "attributes": [{"name": n, "v": np.round(v.astype(float), 5).tolist()}
                               for n, v in list(directions(m.atlas).items())[:MAX_ATTRIBUTES]]}

    def attribute_updates(self, m: LoadedModel) -> list:
        """The attribute sliders of a model: one per direction (at 0), the rest hidden; and their note."""
        found = attribute_labels(m)
        note = text.attributes_note(list(found))
        return [gr.update(value=note, visible=bool(note)),
                *(gr.update(visible=True, value=0, label=n, info=info) for n, info in found.items()),
                *(gr.update(visible=False, value=0) for _ in range(MAX_ATTRIBUTES - len(found)))]

    @user_errors
    def set_z(self, model: str, z, **markers) -> list:
        """Everything that shows z: the sliders, the page's decoder (image, traversal), the star."""
        m = self.registry.get(model)
        z = self.full_z(m, z)
        return [*self.slider_updates(m, z), self.live_value(m, z), map_value(model, slider=ex.place(m, z), **markers)]

    def reset(self, model: str) -> list:
        return self.set_z(model, [0.0] * self.registry.get(model).dim)

    @user_errors
    def randomize(self, model: str, seed: int) -> list:
        return self.set_z(model, ex.random_latent(self.registry.get(model), int(seed)))

    @user_errors
    def on_map_select(self, model: str, evt: gr.SelectData) -> list:
        """A click on a map point (map.js triggers 'select' with the point's index)."""
        mu, _ = ex.pick(self.registry.get(model), evt.index)
        return self.set_z(model, mu)

    def refresh(self, model: str) -> list:
        """A new model: z = 0, its sliders, no upload marker, the traversal's range, the note."""
        m = self.registry.get(model)
        note = text.sliders_note(m, len(m.dims_by_kl(MAX_SLIDERS)))
        return [*self.set_z(model, [0.0] * m.dim, upload=None), *self.attribute_updates(m),
                gr.update(maximum=m.dim - 1, value=0), gr.update(value=note, visible=bool(note))]

    # ------------------------------------------------------------ the page's server functions
    def map_points(self, model: str) -> dict:
        return ex.map_points(self.registry.get(model))

    def hover_card(self, model, index=None) -> dict:
        if isinstance(model, (list, tuple)) and len(model) == 2:    # the JS bridge packs the arguments
            model, index = model
        return ex.hover_card(self.registry.get(model), index)

    def decoder_url(self, model: str) -> str:
        """Where the page fetches the model's decoder (ONNX), exported on first use (0.1-0.3 s)."""
        m = self.registry.get(model)
        return f"/gradio_api/file={cached_decoder(m.path, m.vae)}"

    def atlas_means(self, model: str) -> dict:
        """The test set's means and map positions, for placing the star in the page by the server's
        own rule (model.latent.MapIndex.place: k nearest means, inverse-distance weighted)."""
        m = self.registry.get(model)
        index = m.map_index
        out = {"method": index.method, "k": index.k, "eps": index.eps, "n": len(index.xy)}
        out |= {"dim": int(index.means.shape[1]), "means": _b64(index.means.numpy())}    # also the nearest class
        if index.method != "plane":
            out |= {"xy": _b64(index.xy)}
        labels = np.asarray(m.atlas["labels"]).clip(0, 255).astype(np.uint8)             # the decoded image's text
        return out | {"labels": base64.b64encode(labels.tobytes()).decode("ascii"), "classes": m.class_names}

    def decode_pixels(self, args) -> dict:
        """The page's fallback decoder: [model, z vectors] -> uint8 pixels (N, C, H, W), base64."""
        if not isinstance(args, (list, tuple)) or len(args) != 2:
            raise ex.ExplorerError("send [model, [z, ...]]")
        model, zs = args
        m = self.registry.get(model)
        if not isinstance(zs, list) or not 1 <= len(zs) <= MAX_DECODE:
            raise ex.ExplorerError(f"send 1 to {MAX_DECODE} latent vectors")
        z = torch.from_numpy(np.stack([ex.latent_vector(m, v) for v in zs]))
        with torch.inference_mode():
            x = to_uint8(m.vae.decode(z)).numpy()
        return {"shape": list(x.shape), "data": base64.b64encode(x.tobytes()).decode("ascii")}

    def decoder_functions(self) -> list:
        """What a component that decodes in the page calls (runtime.js, place.js): its decoder file, the
        atlas for the star, and the server's decoder for the fallback."""
        return [bind(ExplorePanel.decoder_url, self), bind(ExplorePanel.atlas_means, self),
                bind(ExplorePanel.decode_pixels, self)]

    # ------------------------------------------------------------ layout and events
    def build(self, model_dd: gr.Dropdown, default: LoadedModel) -> None:
        z0 = [0.0] * default.dim
        scripts = "".join(f"<script src='/gradio_api/file={ASSETS / name}'></script>" for name in PAGE_MODULES)
        with gr.Row(equal_height=False, elem_id="main-row"):
            with gr.Column(scale=3, min_width=300):
                self.live = gr.HTML(self.live_value(default, z0), html_template=LIVE_TEMPLATE, elem_id="live",
                                    js_on_load=(ASSETS / "live.js").read_text(), head=scripts,
                                    server_functions=self.decoder_functions(),
                                    apply_default_css=False)
                with gr.Row():
                    reset_btn = gr.Button("Reset z = 0", size="sm")
                    random_btn = gr.Button("Random z ~ N(0, I)", size="sm", variant="primary")
                    random_seed = gr.Number(0, visible=False, precision=0)
                self.trav_dim = gr.Slider(0, default.dim - 1, value=0, step=1, elem_id="trav-dim", interactive=True,
                                          label="traverse one dimension: z_d from −3 to +3")
            self._slider_column(default)
            with gr.Column(scale=5, min_width=360):
                self.map = gr.HTML(map_value(default.name, slider=ex.place(default, z0)), html_template=MAP_TEMPLATE,
                                   js_on_load=(ASSETS / "map.js").read_text(), elem_id="latent-map",
                                   head=f"<script src='/gradio_api/file={PLOTLY_JS}'></script>",
                                   server_functions=[bind(ExplorePanel.map_points, self),
                                                     bind(ExplorePanel.hover_card, self)], apply_default_css=False)
                gr.Markdown(text.TEACH["map"], elem_classes="teach")
        self.model_dd = model_dd
        self.z_outputs = [*self.sliders, self.live, self.map]
        self.refresh_outputs = [*self.z_outputs, self.attr_note, *self.attr_sliders, self.trav_dim, self.note]
        # a slider drag has no server event: live.js decodes in the page (or asks decode_pixels)
        reset_btn.click(self.reset, model_dd, self.z_outputs, api_visibility="private")
        random_btn.click(next_seed, random_seed, random_seed, api_visibility="private").then(
            self.randomize, [model_dd, random_seed], self.z_outputs, api_visibility="private")
        self.map.select(self.on_map_select, model_dd, self.z_outputs, api_visibility="private")

    def _slider_column(self, default: LoadedModel) -> None:
        dims = default.dims_by_kl(MAX_SLIDERS)
        with gr.Column(scale=3, min_width=260, elem_id="slider-col"):
            gr.Markdown(text.TEACH["sliders"], elem_classes="teach")
            note = text.sliders_note(default, len(dims))
            self.note = gr.Markdown(note, visible=bool(note), elem_id="sliders-note")
            self.sliders = [gr.Slider(-ex.SLIDER_LIMIT, ex.SLIDER_LIMIT, value=0.0, step=0.05,
                                      label=text.slider_label(default, dims[i]) if i < len(dims) else f"z{i}",
                                      visible=i < len(dims), elem_classes="zslider", elem_id=f"zslider-{i}",
                                      interactive=True, buttons=[])   # no server event: live.js reads them
                            for i in range(MAX_SLIDERS)]
            self._attribute_sliders(default)       # after the latent sliders: z first, then moves through it

    def _attribute_sliders(self, default: LoadedModel) -> None:
        """Sliders with no server event: live.js adds amount * v to z and decodes in the page."""
        found = list(attribute_labels(default).items())
        note = text.attributes_note([n for n, _ in found])
        self.attr_note = gr.Markdown(note, visible=bool(note), elem_classes="teach", elem_id="attr-note")
        self.attr_sliders = [gr.Slider(-ATTRIBUTE_RANGE, ATTRIBUTE_RANGE, value=0.0, step=0.05,
                                       label=found[i][0] if i < len(found) else f"attribute {i}",
                                       info=found[i][1] if i < len(found) else None,
                                       visible=i < len(found), elem_classes="attrslider", elem_id=f"attr-{i}",
                                       interactive=True, buttons=[])
                             for i in range(MAX_ATTRIBUTES)]


def attribute_labels(m: LoadedModel) -> dict[str, str | None]:
    """name -> note of the directions that get a slider (the first MAX_ATTRIBUTES; model.attributes)."""
    notes = [str(n) for n in m.atlas.get("attribute_notes", [])]
    return {n: notes[i] if i < len(notes) else None for i, n in enumerate(list(directions(m.atlas))[:MAX_ATTRIBUTES])}


def _b64(arr: np.ndarray) -> str:
    """float32 little-endian bytes, base64: what the page reads into a Float32Array."""
    return base64.b64encode(np.ascontiguousarray(arr, dtype="<f4").tobytes()).decode("ascii")
