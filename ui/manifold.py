"""The manifold panel: Figure 4 of Kingma & Welling, for models with a 2-D latent space."""
from __future__ import annotations

import gradio as gr

from model.serving import requests as ex
from model.serving.registry import LoadedModel, ModelRegistry

from . import text
from .files import image_file


class ManifoldPanel:
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def refresh(self, model: str) -> dict:
        m = self.registry.get(model)
        is2d = m.dim == 2
        return {self.image: image_file(ex.manifold(m)) if is2d else None, self.note: gr.update(visible=not is2d)}

    def build(self, default: LoadedModel) -> None:
        self.note = gr.Markdown(text.MANIFOLD_NEEDS_2D, visible=default.dim != 2)
        self.image = gr.Image(ex.manifold(default) if default.dim == 2 else None, label="decoded grid", type="pil",
                         interactive=False, height=620)
        gr.Markdown(text.TEACH["manifold"], elem_classes="teach")
        self.refresh_outputs = [self.image, self.note]
