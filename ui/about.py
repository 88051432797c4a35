"""The about panel: the model's architecture, its test metrics and its training curves; for a model of
data with known factors (faces), what each latent dimension learned and its MIG, beside its twins'."""
from __future__ import annotations

import gradio as gr

from model.nets.kinds import kind_of
from model.serving.registry import LoadedModel, ModelRegistry

from . import text
from .charts import factors_figure, history_figure


def history_plot(m: LoadedModel):
    return history_figure(m.metrics["history"], kind_of(m).has_kl) if m.metrics.get("history") else None


class AboutPanel:
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def factors(self, m: LoadedModel) -> tuple[str, object]:
        """The MIG table of every model with factor scores, and this model's |corr| heatmap (or nothing)."""
        met = m.metrics
        if "factor_abs_corr" not in met:
            return "", None
        scored = [(o.name, {"beta": o.config.beta, **o.metrics}) for o in self.registry.entries()
                  if "mig" in o.metrics]                           # entries: the others stay unloaded
        title = f"{m.name}: |corr(μ, factor)|, MIG {met['mig']:.3f}"
        return text.factors_markdown(m, scored), factors_figure(met["factor_names"], met["factor_abs_corr"], title)

    def refresh(self, model: str) -> dict:
        m = self.registry.get(model)
        note, fig = self.factors(m)
        return {self.about: text.about_markdown(m), self.plot: history_plot(m),
                self.factors_note: gr.update(value=note, visible=bool(note)),
                self.factors_plot: gr.update(value=fig, visible=fig is not None)}

    def build(self, default: LoadedModel) -> None:
        self.about = gr.Markdown(text.about_markdown(default))
        self.plot = gr.Plot(history_plot(default), label="training curves")
        note, fig = self.factors(default)
        self.factors_note = gr.Markdown(note, visible=bool(note), elem_id="factors-note")
        self.factors_plot = gr.Plot(fig, visible=fig is not None, label="what each dimension learned",
                                    elem_id="factors")
        self.refresh_outputs = [self.about, self.plot, self.factors_note, self.factors_plot]
