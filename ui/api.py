"""The public HTTP endpoints: /decode, /pick, /encode, /interpolate, /sample, /compare. Their names, parameters
(and /attribute, issue 15) and outputs are an API that users script against (README, "HTTP API"): keep them stable.

Every endpoint hangs on one hidden button: /decode, /pick, /attribute and /sample with hidden inputs and
outputs, so gradio_client calls do not touch the page; /encode, /interpolate and /compare with the
page's own inputs (their upload checks). The panels own the page's events, which are private; the
handlers here call the same code, so each value is computed once per request.
"""
from __future__ import annotations

import gradio as gr

from model.serving import requests as ex
from model.serving.registry import ModelRegistry

from .compare import ComparePanel
from .encode import EncodePanel
from .files import image_file, image_files
from .interpolate import InterpolatePanel
from .sample import SamplePanel, controls
from .server import user_errors


class Api:
    def __init__(self, registry: ModelRegistry, encode: EncodePanel, interpolate: InterpolatePanel,
                 compare: ComparePanel, sample: SamplePanel) -> None:
        self.registry = registry
        self.sample_panel = sample
        self.compare_panel = compare
        self.encode_panel = encode
        self.interpolate_panel = interpolate

    @user_errors
    def decode(self, z: list[float], model: str):
        return image_file(ex.decode(self.registry.get(model), z))

    @user_errors
    def pick(self, index: int, model: str):
        mu, image = ex.pick(self.registry.get(model), index)
        return mu, image_file(image)

    @user_errors
    def encode(self, image, model: str):
        recon, _, info = self.encode_panel.encoding(image, model)      # the model input is for the page only
        return image_file(recon), info

    @user_errors
    def interpolate(self, image_a, image_b, steps: int, method: str, model: str):
        frames, gif, _ = self.interpolate_panel.walk(image_a, image_b, steps, method, model)
        return image_files(frames), gif

    @user_errors
    def attribute(self, z: list[float], name: str, amount: float, model: str):
        image, new_z = ex.attribute(self.registry.get(model), z, name, amount)
        return image_file(image), new_z

    @user_errors
    def compare(self, image, models: list[str], seed: int) -> dict:
        return self.compare_panel.report(image, models, seed)

    def endpoints(self) -> dict:
        """api_name -> the handler a request to it runs (the page's own events call the same code)."""
        return {"decode": self.decode, "pick": self.pick, "attribute": self.attribute, "encode": self.encode,
                "interpolate": self.interpolate, "compare": self.compare, "sample": self.sample_panel.draw}

    def build(self, model_dd: gr.Dropdown) -> None:
        with gr.Row(visible=False):
            z = gr.JSON(label="z")
            index = gr.Number(label="index", precision=0)
            image = gr.Image(type="pil", format="png")
            mu = gr.JSON(label="mu")
            models = gr.JSON(label="models")
            report = gr.JSON(label="report")
            name, amount, new_z = gr.Textbox(label="name"), gr.Number(label="amount"), gr.JSON(label="new z")
            n, temperature, seed = controls()
            samples, sample_z = gr.Gallery(format="png"), gr.State([])
            button = gr.Button("api")
        enc, interp, cmp = self.encode_panel, self.interpolate_panel, self.compare_panel
        wiring = {                     # api_name -> inputs, outputs, whether Gradio preprocesses the inputs
            "decode": ([z, model_dd], [image], True),
            "pick": ([index, model_dd], [mu, image], True),
            "attribute": ([z, name, amount, model_dd], [image, new_z], True),
            "encode": ([enc.upload, model_dd], [enc.recon, enc.info], False),       # our upload checks
            "interpolate": (interp.inputs, [interp.frames, interp.gif], False),
            "compare": ([cmp.image_a, models, cmp.seed], [report], False),
            "sample": ([n, temperature, seed, model_dd], [samples, sample_z], True),
        }
        for api_name, fn in self.endpoints().items():
            inputs, outputs, preprocess = wiring[api_name]
            button.click(fn, inputs, outputs, api_name=api_name, preprocess=preprocess)
