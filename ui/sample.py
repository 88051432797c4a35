"""The sample panel: draws z ~ N(0, T^2 I) decoded in one batch; a click loads a sample into the
sliders. Its Sample button is the public /sample endpoint (ui/api.py wires it)."""
from __future__ import annotations

import gradio as gr

from model.nets.limits import MAX_SAMPLES, MAX_SEED, MAX_TEMPERATURE

from . import text
from .explore import ExplorePanel


class SamplePanel:
    def __init__(self, explore: ExplorePanel) -> None:
        self.explore = explore

    def on_select(self, model: str, zs: list, evt: gr.SelectData) -> list:
        """A click on a sample: its z goes to the sliders."""
        return self.explore.set_z(model, zs[evt.index])

    def build(self, model_dd: gr.Dropdown) -> None:
        with gr.Row():
            self.n = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label="n")
            self.temperature = gr.Slider(0.0, MAX_TEMPERATURE, value=1.0, step=0.05, label="temperature T",
                                         elem_id="sample-temperature")
            self.seed = gr.Number(0, label="seed", precision=0, minimum=0, maximum=MAX_SEED,
                                  elem_id="sample-seed")
            self.button = gr.Button("Sample", variant="primary")
        self.gallery = gr.Gallery(label="samples (click one to load it into the sliders)", columns=8, height=330,
                                  allow_preview=False, elem_id="samples", format="png")
        self.zs = gr.State([])
        gr.Markdown(text.TEACH["sample"], elem_classes="teach")
        self.gallery.select(self.on_select, [model_dd, self.zs], self.explore.z_outputs, api_visibility="private")
