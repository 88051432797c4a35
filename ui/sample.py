"""The sample panel: draws z ~ N(0, T^2 I) decoded in one batch; a click loads a sample into the
sliders. The same draws are the public /sample endpoint (ui/api.py declares it)."""
from __future__ import annotations

import gradio as gr

from model.nets.limits import MAX_SAMPLES, MAX_SEED, MAX_TEMPERATURE
from model.serving import requests as ex
from model.serving.registry import ModelRegistry

from . import text
from .describe import captions
from .explore import ExplorePanel
from .files import image_files
from .server import user_errors


def controls(elem_ids: bool = False, temperature: float = 1.0, seed: int = 0) -> tuple[gr.Slider, gr.Slider, gr.Number]:
    """n, the temperature and the seed: the page's (with the ids lesson links read) or /sample's hidden twins."""
    return (gr.Slider(1, MAX_SAMPLES, value=16, step=1, label="n"),
            gr.Slider(0.0, MAX_TEMPERATURE, value=temperature, step=0.05, label="temperature T",
                      elem_id="sample-temperature" if elem_ids else None),
            gr.Number(seed, label="seed", precision=0, minimum=0, maximum=MAX_SEED,
                      elem_id="sample-seed" if elem_ids else None))


class SamplePanel:
    def __init__(self, registry: ModelRegistry, explore: ExplorePanel) -> None:
        self.registry, self.explore = registry, explore

    @user_errors
    def draw(self, n: int, temperature: float, seed: int, model: str) -> tuple[list[str], list[list[float]]]:
        """n draws decoded: the images (files) and their z (4 decimals); the page and /sample."""
        images, z = ex.sample(self.registry.get(model), n, temperature, seed)
        return image_files(images), z.round(4).tolist()

    @user_errors
    def draw_named(self, n: int, temperature: float, seed: int, model: str) -> tuple[list, list[list[float]]]:
        """The page's draws: each image with its text alternative, what the classifier sees in it (ui/describe.py),
        as the gallery's caption; the same images and z as draw."""
        m = self.registry.get(model)
        images, z = ex.sample(m, n, temperature, seed)
        files, named = image_files(images), captions(self.registry.root, m, images)
        return (list(zip(files, named, strict=True)) if named else files), z.round(4).tolist()

    def on_select(self, model: str, zs: list, evt: gr.SelectData) -> dict:
        """A click on a sample: its z goes to the sliders."""
        return self.explore.set_z(model, zs[evt.index])

    def build(self, model_dd: gr.Dropdown, temperature: float = 1.0, seed: int = 0) -> None:
        """The controls start at a lesson link's temperature and seed when it gave them."""
        with gr.Row():
            self.n, self.temperature, self.seed = controls(True, temperature, seed)
            self.button = gr.Button("Sample", variant="primary")
        self.gallery = gr.Gallery(label="samples (click one to load it into the sliders)", columns=8, height=330,
                                  allow_preview=False, elem_id="samples", format="png")
        self.zs = gr.State([])
        gr.Markdown(text.TEACH["sample"], elem_classes="teach")
        self.button.click(self.draw_named, [self.n, self.temperature, self.seed, model_dd], [self.gallery, self.zs],
                          api_visibility="private")
        self.gallery.select(self.on_select, [model_dd, self.zs], self.explore.z_outputs, api_visibility="private")
