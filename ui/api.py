"""The public HTTP endpoints: /decode, /pick, /attribute, /encode, /interpolate, /sample, /compare; the live
training ones /train, /train_status, /train_set, /train_stop and /models; and "Is this typical?"'s /typicality
and /typicality_batch. Their names, parameters and outputs are an API that users script against (README,
"HTTP API"): keep them stable.

Every endpoint hangs on one hidden button with hidden inputs and outputs, on a page of their own
(`/http-api`, see ui/page.py): gradio_client reads every page's endpoints, while the browser is sent only its
page's components, and the explorer's page is lighter on a slow laptop for not carrying these. Those that
mirror a tab's inputs (the images, the walk's steps and method, the compared image and seed, the model) are made
by the same functions as the tab's, so they have the same parameter names and checks. The panels own the page's
events, which are private; the handlers here call the same code, so each value is computed once per request.
"""
from __future__ import annotations

from typing import Callable

import gradio as gr

from model.serving import requests as ex
from model.serving.registry import ModelRegistry

from .compare import ComparePanel, compare_seed, compared_image
from .encode import EncodePanel, encoding_json, reconstruction, your_image
from .files import image_file, image_files
from .interpolate import InterpolatePanel, image_pair, walk_controls, walk_outputs
from .sample import SamplePanel, controls
from .server import user_errors
from .train import TrainPanel, caller_of
from .typical import TypicalPanel

API_PAGE = ("This page holds the explorer's HTTP API: **Use via API**, below, lists every endpoint with examples "
            "(docs/api.md says what each does). The explorer itself is the [main page](./).")


class Api:
    def __init__(self, registry: ModelRegistry, encode: EncodePanel, interpolate: InterpolatePanel,
                 compare: ComparePanel, sample: SamplePanel, train: TrainPanel, typical: TypicalPanel) -> None:
        self.registry = registry
        self.typical_panel = typical
        self.train_panel = train
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

    @user_errors
    def train(self, dataset: str, images, latent_dim: int, beta: float, seconds: float, name: str | None = None,
              request: gr.Request = None) -> dict:
        """Queue a training job; the token it returns is the only handle that controls it. name: shown beside
        the run in the class view (as text, at most 40 characters). One client (its session) may hold at most
        a few unfinished jobs."""
        prepared = self.train_panel.collect(images or [])[0] if dataset == "upload" else None
        token, job = self.train_panel.start_job(dataset, prepared, latent_dim, beta, seconds, "small", True,
                                                name=name or "", caller=caller_of(request))
        return {"job": token, "queue_position": self.train_panel.service.ahead(job)}

    @user_errors
    def train_ready(self, dataset: str) -> dict:
        """Start the training processes (with this built-in data set in memory) before a class presses Start,
        as opening the Train tab does: the first live point then does not wait for them."""
        return {"processes": self.train_panel.ready(dataset)}

    @user_errors
    def train_status(self, job: str) -> dict:
        return self.train_panel.service.status(job)

    @user_errors
    def train_set(self, job: str, beta: float | None, lr: float | None) -> dict:
        return self.train_panel.service.set(job, beta=beta, lr=lr)

    @user_errors
    def train_stop(self, job: str) -> dict:
        return self.train_panel.service.stop(job)

    @user_errors
    def typicality(self, image, model: str) -> dict:
        """{neg_elbo, neg_elbo_percentile, iwae, score, score_percentile, verdict}: higher scores are less typical;
        each percentile is the share of the model's test images scoring lower."""
        return self.typical_panel.api_typicality(image, model)

    @user_errors
    def typicality_batch(self, images, model: str):
        """Many images (files and zips) scored: the rows, least typical first, and the CSV file."""
        return self.typical_panel.api_batch(images, model)

    def models(self) -> list[dict]:
        return self.registry.listing()

    def endpoints(self) -> dict:
        """api_name -> the handler a request to it runs (the page's own events call the same code)."""
        return {"decode": self.decode, "pick": self.pick, "attribute": self.attribute, "encode": self.encode,
                "interpolate": self.interpolate, "compare": self.compare, "sample": self.sample_panel.draw,
                "train": self.train, "train_ready": self.train_ready, "train_status": self.train_status,
                "train_set": self.train_set, "train_stop": self.train_stop, "models": self.models,
                "typicality": self.typicality, "typicality_batch": self.typicality_batch}

    def build(self, model_picker: Callable[[], gr.Dropdown]) -> None:
        """The endpoints' hidden inputs and outputs, on a page of their own (ui/page.py): the explorer's page
        is then not sent them. model_picker: a twin of the page's picker (the "model" parameter)."""
        gr.Markdown(API_PAGE)
        with gr.Row(visible=False):
            model_dd = model_picker()
            z = gr.JSON(label="z")
            index = gr.Number(label="index", precision=0)
            image = gr.Image(type="pil", format="png")
            mu = gr.JSON(label="mu")
            models = gr.JSON(label="models")
            report = gr.JSON(label="report")
            name, amount, new_z = gr.Textbox(label="name"), gr.Number(label="amount"), gr.JSON(label="new z")
            n, temperature, seed = controls()
            samples, sample_z = gr.Gallery(format="png"), gr.State([])
            dataset, files = gr.Textbox(label="dataset"), gr.File(file_count="multiple", label="images")
            latent, beta, seconds, lr = (gr.Number(label=n) for n in ("latent_dim", "beta", "seconds", "lr"))
            job, status, listing = gr.Textbox(label="job"), gr.JSON(label="status"), gr.JSON(label="models")
            judged, rows, csv = gr.JSON(label="typicality"), gr.JSON(label="rows"), gr.File(label="csv")
            # twins of the tabs' own inputs and outputs, made by the same functions: the same names and checks
            upload, recon, info = your_image(), reconstruction(), encoding_json()
            image_a, image_b = image_pair()
            steps, method = walk_controls()
            frames, gif = walk_outputs()
            compared, cmp_seed = compared_image(), compare_seed()
            button = gr.Button("api")
        wiring = {                     # api_name -> inputs, outputs, whether Gradio preprocesses the inputs
            "decode": ([z, model_dd], [image], True),
            "pick": ([index, model_dd], [mu, image], True),
            "attribute": ([z, name, amount, model_dd], [image, new_z], True),
            "encode": ([upload, model_dd], [recon, info], False),                   # our upload checks
            "interpolate": ([image_a, image_b, steps, method, model_dd], [frames, gif], False),
            "compare": ([compared, models, cmp_seed], [report], False),
            "sample": ([n, temperature, seed, model_dd], [samples, sample_z], True),
            "train": ([dataset, files, latent, beta, seconds, name], [status], False),      # our upload checks
            "train_ready": ([dataset], [status], True),
            "train_status": ([job], [status], True),
            "train_set": ([job, beta, lr], [status], True),
            "train_stop": ([job], [status], True),
            "models": ([], [listing], True),
            "typicality": ([upload, model_dd], [judged], False),
            "typicality_batch": ([files, model_dd], [rows, csv], False),
        }
        for api_name, fn in self.endpoints().items():
            inputs, outputs, preprocess = wiring[api_name]
            button.click(fn, inputs, outputs, api_name=api_name, preprocess=preprocess)
