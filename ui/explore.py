"""The explore panel: one slider per latent dimension, the decoded image, a traversal of one
dimension, and the map of the test set (assets/map.js) with the star where the sliders are."""
from __future__ import annotations

import gradio as gr
import numpy as np

from model import explorer as ex
from model.registry import LoadedModel, ModelRegistry

from . import text
from .server import ASSETS, PLOTLY_JS, bind, user_errors

MAX_SLIDERS = 32                 # sliders built; a larger model shows its 32 dimensions with the most KL
MAP_TEMPLATE = "<div class='vae-map'><div class='vae-map-plot'></div><div class='vae-map-card'></div></div>"


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
        ups = [gr.update(visible=True, value=z[d], label=text.slider_label(m, d)) for d in dims]
        return ups + [gr.update(visible=False, value=0) for _ in range(MAX_SLIDERS - len(dims))]

    @user_errors
    def set_z(self, model: str, z, **markers) -> list:
        """Everything that shows z: the sliders, the kept vector, the decoded image, the star."""
        m = self.registry.get(model)
        z = self.full_z(m, z)
        return [*self.slider_updates(m, z), z, ex.decode(m, z), map_value(model, slider=ex.place(m, z), **markers)]

    @user_errors
    def on_slide(self, model: str, z: list, *values) -> tuple:
        """A slider moved: the shown dimensions take the sliders' values, the others keep theirs."""
        m = self.registry.get(model)
        z = list(z) if isinstance(z, list) and len(z) == m.dim else [0.0] * m.dim
        for d, v in zip(m.dims_by_kl(MAX_SLIDERS), values):
            z[d] = v
        z = self.full_z(m, z)
        return z, ex.decode(m, z), map_value(model, slider=ex.place(m, z))

    def reset(self, model: str) -> list:
        return self.set_z(model, [0.0] * self.registry.get(model).dim)

    @user_errors
    def randomize(self, model: str, seed: int) -> list:
        return self.set_z(model, ex.random_latent(self.registry.get(model), int(seed)))

    @user_errors
    def traverse(self, model: str, dim: int, z: list):
        return ex.traversal(self.registry.get(model), z, dim)

    @user_errors
    def on_map_select(self, model: str, evt: gr.SelectData) -> list:
        """A click on a map point (map.js triggers 'select' with the point's index)."""
        mu, _ = ex.pick(self.registry.get(model), evt.index)
        return self.set_z(model, mu)

    def map_points(self, model: str) -> dict:
        return ex.map_points(self.registry.get(model))

    def hover_card(self, model, index=None) -> dict:
        if isinstance(model, (list, tuple)) and len(model) == 2:    # the JS bridge packs the arguments
            model, index = model
        return ex.hover_card(self.registry.get(model), index)

    def refresh(self, model: str) -> list:
        """A new model: z = 0, its sliders, no upload marker, the traversal's range, the note."""
        m = self.registry.get(model)
        note = text.sliders_note(m, len(m.dims_by_kl(MAX_SLIDERS)))
        return [*self.set_z(model, [0.0] * m.dim, upload=None), gr.update(maximum=m.dim - 1, value=0),
                gr.update(value=note, visible=bool(note))]

    # ------------------------------------------------------------ layout and events
    def build(self, model_dd: gr.Dropdown, default: LoadedModel) -> None:
        z0 = [0.0] * default.dim
        with gr.Row(equal_height=False, elem_id="main-row"):
            with gr.Column(scale=3, min_width=300):
                self.decoded = gr.Image(ex.decode(default, z0), label="decoded image x = decoder(z)", type="pil",
                                        format="png", height=300, interactive=False, elem_id="decoded",
                                        buttons=["download"])
                with gr.Row():
                    reset_btn = gr.Button("Reset z = 0", size="sm")
                    random_btn = gr.Button("Random z ~ N(0, I)", size="sm", variant="primary")
                    random_seed = gr.Number(0, visible=False, precision=0)
                self.trav_dim = gr.Slider(0, default.dim - 1, value=0, step=1,
                                          label="traverse one dimension: z_d from −3 to +3")
                trav_img = gr.Image(label="traversal", type="pil", format="png", interactive=False, height=90,
                                    elem_id="traversal")
            self._slider_column(default)
            with gr.Column(scale=5, min_width=360):
                self.map = gr.HTML(map_value(default.name, slider=ex.place(default, z0)), html_template=MAP_TEMPLATE,
                                   js_on_load=(ASSETS / "map.js").read_text(), elem_id="latent-map",
                                   head=f"<script src='/gradio_api/file={PLOTLY_JS}'></script>",
                                   server_functions=[bind(ExplorePanel.map_points, self),
                                                     bind(ExplorePanel.hover_card, self)], apply_default_css=False)
                gr.Markdown(text.TEACH["map"], elem_classes="teach")
        self.z = gr.State(z0)
        self.model_dd = model_dd
        self.z_outputs = [*self.sliders, self.z, self.decoded, self.map]
        self.refresh_outputs = [*self.z_outputs, self.trav_dim, self.note]

        gr.on([s.input for s in self.sliders], self.on_slide, [model_dd, self.z, *self.sliders],
              [self.z, self.decoded, self.map], trigger_mode="always_last", show_progress="hidden",
              api_visibility="private")
        reset_btn.click(self.reset, model_dd, self.z_outputs, api_visibility="private")
        random_btn.click(next_seed, random_seed, random_seed, api_visibility="private").then(
            self.randomize, [model_dd, random_seed], self.z_outputs, api_visibility="private")
        gr.on([self.trav_dim.release, self.decoded.change], self.traverse, [model_dd, self.trav_dim, self.z],
              trav_img, show_progress="hidden", trigger_mode="always_last", api_visibility="private")
        self.map.select(self.on_map_select, model_dd, self.z_outputs, api_visibility="private")
        self.trav_img = trav_img

    def wire_page_load(self, demo: gr.Blocks) -> None:
        """The traversal strip of the first model, once the page has opened."""
        demo.load(self.traverse, [self.model_dd, self.trav_dim, self.z], self.trav_img, api_visibility="private")

    def _slider_column(self, default: LoadedModel) -> None:
        dims = default.dims_by_kl(MAX_SLIDERS)
        with gr.Column(scale=3, min_width=260, elem_id="slider-col"):
            gr.Markdown(text.TEACH["sliders"], elem_classes="teach")
            note = text.sliders_note(default, len(dims))
            self.note = gr.Markdown(note, visible=bool(note), elem_id="sliders-note")
            self.sliders = [gr.Slider(-ex.SLIDER_LIMIT, ex.SLIDER_LIMIT, value=0.0, step=0.05,
                                      label=text.slider_label(default, dims[i]) if i < len(dims) else f"z{i}",
                                      visible=i < len(dims), elem_classes="zslider", buttons=[])
                            for i in range(MAX_SLIDERS)]
