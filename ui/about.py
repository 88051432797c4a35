"""The about panel: the model's architecture, its test metrics and its training curves."""
from __future__ import annotations

import gradio as gr

from model.registry import LoadedModel, ModelRegistry

from . import text
from .charts import history_figure


def history_plot(m: LoadedModel):
    return history_figure(m.metrics["history"]) if m.metrics.get("history") else None


class AboutPanel:
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def refresh(self, model: str) -> list:
        m = self.registry.get(model)
        return [text.about_markdown(m), history_plot(m)]

    def build(self, default: LoadedModel) -> None:
        about = gr.Markdown(text.about_markdown(default))
        plot = gr.Plot(history_plot(default), label="training curves")
        self.refresh_outputs = [about, plot]
