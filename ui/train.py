"""The Train tab: a class watches a VAE learn, on built-in data or their own pictures, and moves β while it
trains. The training runs in a worker process (model.serving.training, model.training.worker); this panel starts
and controls jobs with the job's token (kept in this page's state only) and shows any job on the server:
assets/train.js polls `train_view` twice a second and adds to its charts rather than redrawing them.

"Explore this model" asks the worker for a snapshot and returns at once; the service registers it as a model
in every page's picker, and the live view's poll switches this page's picker to it when the status's
model_version passes the one it had. "Download this model" hands the weights folder as a zip, which "Load a
model" takes back. Below the live view, the class view (ui/classview.py) shows every run on the server; a tile
opens its run here. The page's session is the caller the service counts (at most a few unfinished runs each).
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from model.data import TRAIN_SETS, DataError
from model.data.intake import COLOUR_SIZE, augment, collect_images, contact_sheet, split_holdout
from model.nets.limits import ExplorerError
from model.serving.registry import ModelRegistry
from model.serving.training import TrainingService
from model.serving.training import settings as limits
from model.serving.training.settings import BETA_RANGE, DEFAULT_SECONDS, LATENT_CHOICES, LR_RANGE, SECONDS_RANGE
from model.store.bundle import pack_model
from model.training.live_view import N_PRIOR, N_RECON
from model.training.worker import KL_WARMUP_STEPS

from . import text
from .classview import ClassView
from .files import image_file, upload_path, zip_file
from .runtime import PLOTLY_HEAD, PageRuntime
from .server import bind, user_errors

UPLOAD = "upload"
SET_LABELS = {"fashion-mnist": "Fashion-MNIST (clothes, 28×28 grey)", "digits": "digits (8×8, upscaled)",
              "faces": "faces with known factors (64×64 colour)",
              "emoji": f"emoji ({COLOUR_SIZE}×{COLOUR_SIZE} colour)"}          # the sets themselves: model.data
DATA_CHOICES = ([(SET_LABELS.get(name, name), name) for name in TRAIN_SETS]
                + [("my own images (upload or webcam)", UPLOAD)])
COLOUR_CHOICES = [("decide from the images", "auto"), ("grey", "grey"), ("colour", "colour")]
AUGMENT_COPIES = 7                 # a small set becomes 8x as many pictures (shifts, and flips if asked)
MODEL_NAME = re.compile(r"[^a-z0-9._-]+")

TRAIN_TEMPLATE = (
    "<div class='vae-train'><div class='vae-train-status' aria-live='polite'>No run yet: press Start, "
    "or pick a run to watch.</div><div class='vae-train-time'></div>"
    "<div class='vae-train-row'><div class='vae-train-loss' aria-label='the ELBO terms per step'></div>"
    "<div class='vae-train-kl' aria-label='KL per latent dimension'></div></div>"
    "<div class='vae-train-row'><figure><canvas class='vae-train-map' width='360' height='360' role='img' "
    "aria-label='the held-out images on the map'></canvas><figcaption class='vae-train-map-caption'>"
    "the map</figcaption></figure>"
    f"<div class='vae-train-pictures'><figure><img class='vae-train-originals' alt='{N_RECON} held-out images'>"
    f"<img class='vae-train-recon' alt='their reconstructions'><figcaption>{N_RECON} held-out images and their "
    f"reconstructions</figcaption></figure><figure><img class='vae-train-prior' alt='{N_PRIOR} draws from the "
    f"prior'><figcaption>{N_PRIOR} fixed draws from the prior N(0, I), decoded</figcaption></figure></div></div>"
    "</div>")


def safe_model_name(stem: str) -> str:
    name = MODEL_NAME.sub("-", stem.lower()).strip("-.")[:60]
    return name or "loaded-model"


class TrainPanel:
    """The tab's layout and events; every handler is also what the /train* endpoints call (ui/api.py)."""

    def __init__(self, registry: ModelRegistry, service: TrainingService, runtime: PageRuntime) -> None:
        self.registry, self.service, self.runtime = registry, service, runtime

    # ------------------------------------------------------------ data
    @user_errors
    def prepare(self, files, snapshots: list, colour: str, aug: bool, flips: bool = False,
                progress=gr.Progress()) -> tuple:  # noqa: B008
        """The uploaded pictures as the model will see them: count, mode, a contact sheet."""
        paths = [upload_path(p) for p in (files or [])] + [upload_path(p) for p in (snapshots or [])]
        if not paths:
            return None, "Upload many pictures (or one zip), or take some with the webcam.", None
        progress(0, desc="reading the images")
        prepared, line = self.collect(paths, colour, aug, flips)
        sheet = contact_sheet(prepared["images"])
        return prepared, line, image_file(Image.fromarray(_upscaled(sheet).squeeze()))

    @staticmethod
    def collect(paths: list, colour: str = "auto", aug: bool = False, flips: bool = False) -> tuple[dict, str]:
        """Uploaded files (pictures and zips) as a training set, and the line that describes it."""
        try:
            got = collect_images([str(upload_path(p)) for p in paths], channels={"grey": 1, "colour": 3}.get(colour))
        except DataError as e:
            raise ExplorerError(str(e)) from None
        mode = "colour" if got.channels == 3 else "grey"
        line = (f"**{len(got.images)} images** ({mode}, {got.size}×{got.size})"
                + (f", {len(got.images) * (1 + AUGMENT_COPIES)} with small shifts{' and flips' if flips else ''}"
                   if aug else ""))
        if got.skipped:
            shown = "; ".join(f"{n}: {why}" for n, why in got.skipped[:5])
            line += f"  \nskipped {len(got.skipped)}: {shown}" + (" …" if len(got.skipped) > 5 else "")
        return {"images": got.images, "names": got.names, "augment": bool(aug), "flips": bool(flips)}, line

    def add_snapshot(self, picture, snapshots: list) -> tuple[list, str]:
        """A webcam picture joins the set (its file stays in Gradio's upload cache)."""
        if not picture:
            return snapshots, f"{len(snapshots)} webcam pictures"
        snapshots = list(snapshots or []) + [picture]
        return snapshots, f"{len(snapshots)} webcam pictures"

    # ------------------------------------------------------------ jobs
    def start_job(self, dataset: str, prepared: dict | None, latent, beta, seconds, size, warmup, lr=2e-3,
                  name: str = "", caller: str | None = None):
        """Queue a job (its token, the job); name: the student's, shown to the class as text; caller: who asks
        (a page's or an API client's session: at most a few unfinished jobs each)."""
        data = None
        if dataset == UPLOAD:
            if not prepared:
                raise ExplorerError("upload your images first (many files, or one zip)")
            data = training_arrays(prepared["images"], prepared.get("augment", False), prepared.get("flips", False))
        return self.service.submit({"dataset": dataset, "latent_dim": latent, "beta": beta, "seconds": seconds,
                                    "size": size, "kl_warmup": warmup, "lr": lr, "name": name}, data, caller=caller)

    @user_errors
    def on_start(self, dataset, prepared, latent, beta, seconds, size, warmup, lr, name="",
                 request: gr.Request = None):
        token, job = self.start_job(dataset, prepared, latent, beta, seconds, size, warmup, lr, name,
                                    caller_of(request))
        return token, self.view_value(job.id), gr.update(choices=self.service.watchable(), value=job.id)

    @staticmethod
    def own(token) -> str:
        """This page's job token; a page that started nothing controls nothing."""
        if not token:
            raise ExplorerError("this page has not started a run: press Start (a run you watch is controlled "
                                "only by the page that started it, with its job token)")
        return token

    @user_errors
    def on_pause(self, token):
        self.service.set(self.own(token), paused=True)

    @user_errors
    def on_resume(self, token, seconds):
        """Resume a paused job, or train a finished or stopped one on from its checkpoint."""
        job = self.service.controlled(self.own(token))
        if job.state == "paused":
            self.service.set(token, paused=False)
        else:
            self.service.resume(token, seconds)

    @user_errors
    def on_stop(self, token):
        self.service.stop(self.own(token))

    def on_set(self, token, beta, lr):
        """β or the learning rate moved: the running job takes it at its next step (no job: nothing)."""
        if not token:
            return
        try:
            job = self.service.controlled(token)
            if job.state in ("running", "paused", "queued"):
                self.service.set(token, beta=beta, lr=lr)
        except ExplorerError as e:
            raise gr.Error(str(e)) from None

    def shown(self, token, watched):
        """The run this page shows: the one picked to watch, else its own."""
        if not (token or watched):
            raise ExplorerError("no run yet: press Start, or pick a run to watch")
        return self.service.find(watched or token)

    @user_errors
    def on_explore(self, token, watched):
        """The run as a model in every page's picker, and this page switches to it. The page that started a
        run still training asks it for a snapshot and returns at once: the live view (assets/train.js) says it
        is being written and, when the status's model_version passes `explore`, switches the picker to it
        (on_explore_ready). A watcher, or a run that ended, opens the last snapshot at once."""
        job = self.shown(token, watched)
        if token and job.active and self.service.controlled(token) is job:
            before = job.model_version
            self.service.publish(token)
            return gr.update(), self.view_value(job.id, explore=before)
        if job.model_version == 0:
            raise ExplorerError("this run has no model yet: it appears when the run ends, or when the page that "
                                "started it presses Explore this model")
        return gr.update(choices=text.picker_choices(self.registry), value=job.model_name), gr.update()

    @user_errors
    def on_explore_ready(self, evt: gr.SelectData):
        """The live view saw the snapshot it waited for (train.js triggers 'select' with the model's name)."""
        name = str(evt.value or "")
        if name not in self.registry.names():
            raise ExplorerError(f"no model named {name[:80]!r} on this server")
        return gr.update(choices=text.picker_choices(self.registry), value=name)

    def on_tile(self, evt: gr.SelectData):
        """A tile of the class view was opened (classview.js triggers 'select' with its run's id): watch it."""
        try:
            job = self.service.find(evt.value)
        except ExplorerError as e:
            raise gr.Error(str(e)) from None
        return gr.update(choices=self.service.watchable(), value=job.id), self.view_value(job.id)

    @user_errors
    def on_download(self, token, watched):
        """The run's weights folder as a zip (anyone watching may download a model that exists)."""
        job = self.shown(token, watched)
        if job.model_version == 0:
            raise ExplorerError("this run has no model yet: press Explore this model, or wait until it ends")
        return gr.update(value=zip_file(pack_model(job.dir), job.model_name), visible=True)

    @user_errors
    def on_load_zip(self, upload):
        """A model zip (Download this model, on any server) joins the picker as a trained model."""
        if not upload:
            return gr.update(), "Choose a model zip."
        src = Path(upload_path(upload))
        name = self.service.load_zip(src, safe_model_name(src.stem))
        return gr.update(choices=text.picker_choices(self.registry), value=name), f"Loaded **{name}**."

    def ready(self, dataset: str) -> int:
        """Have the training processes started, with this built-in set in memory, before anyone presses
        Start: the Train tab calls this when it is opened and when its data set changes."""
        return self.service.warm([dataset] if dataset in TRAIN_SETS else [])

    def wire_tab(self, tab: gr.Tab) -> None:
        tab.select(self.ready, self.dataset, None, api_visibility="private", show_progress="hidden")

    def on_watch(self, job_id):
        return self.view_value(job_id) if job_id else gr.update()

    def refresh_watchable(self, current):
        return gr.update(choices=self.service.watchable(), value=current)

    def refresh_picker(self, seen: int, current):
        """On focus: the picker gains the models trained since this page loaded."""
        if seen == self.registry.version:
            return gr.update(), seen
        return gr.update(choices=text.picker_choices(self.registry), value=current), self.registry.version

    # ------------------------------------------------------------ the live view's server function
    def train_view(self, args) -> dict:
        """[job id, the last step the page has, the last update it has] -> the job's state, the newer
        history rows, and the pictures when they are newer."""
        try:
            if not isinstance(args, (list, tuple)) or len(args) != 3:
                raise ExplorerError("send [job, since_step, seen]")
            seen = None if args[2] is None else float(args[2])
            return self.service.live(args[0], int(args[1]), seen)
        except (ExplorerError, TypeError, ValueError) as e:
            return {"state": "unknown", "message": str(e), "history": []}

    def view_value(self, job_id: str, explore: int | None = None) -> dict:
        """The live view's value: the job to watch; explore: the model_version a snapshot must pass before
        the page switches its picker to the run's model (Explore this model, pressed while it trains)."""
        return {"job": job_id, "seq": time.monotonic_ns(), "rules": {"palette": text_palette()}, "explore": explore}

    # ------------------------------------------------------------ layout
    def build(self, model_dd: gr.Dropdown) -> None:
        gr.Markdown(text.TEACH["train"], elem_classes="teach")
        self.token = gr.State(None)
        self.prepared = gr.State(None)
        self.snapshots = gr.State([])
        self.picker_version = gr.State(self.registry.version)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                own, add = self._build_data()
            with gr.Column(scale=1):
                start, pause, resume, stop, explore, download = self._build_controls()
        self.view = self.runtime.html(self.view_value(None), TRAIN_TEMPLATE, "train.js", "train-view",
                                      extra_functions=[bind(TrainPanel.train_view, self)], head=PLOTLY_HEAD)
        self.classes = ClassView(self.service, self.runtime)
        self.classes.build(text_palette())
        self._wire(model_dd, own, add, start, pause, resume, stop, explore, download)

    def _build_data(self):
        """The data column: the built-in sets, or a class's own pictures (files, zip, webcam) and their sheet."""
        self.dataset = gr.Radio(DATA_CHOICES, value="fashion-mnist", label="data", elem_id="train-dataset")
        with gr.Group(visible=False) as own:
            self.files = gr.File(file_count="multiple", file_types=["image", ".zip"], type="filepath",
                                 label="your images: many files, or one zip", elem_id="train-files",
                                 height=160)       # 200 files listed would push the sheet out of sight
            with gr.Row():
                self.webcam = gr.Image(sources=["webcam"], type="filepath", label="or take pictures",
                                       height=200)
                add = gr.Button("Add this picture", size="sm")
            self.snap_info = gr.Markdown("0 webcam pictures")
            with gr.Row():
                self.colour = gr.Radio(COLOUR_CHOICES, value="auto", label="grey or colour")
                self.augment = gr.Checkbox(True, label="augment: small shifts (small sets)",
                                           elem_id="train-augment")
                self.flips = gr.Checkbox(False, label="and left-right flips (not for digits, letters, "
                                         "handwriting or text)", elem_id="train-flips")
            self.data_info = gr.Markdown("", elem_id="train-data-info")
            self.sheet = gr.Image(label="as the model will see them", interactive=False, height=260,
                                  elem_id="train-sheet")
        return own, add

    def _build_controls(self):
        """The settings and controls column: latent size, β, learning rate, budget, name; Start to Load."""
        with gr.Row():
            self.latent = gr.Dropdown(list(LATENT_CHOICES), value=2, label="latent size",
                                      elem_id="train-latent")
            self.size = gr.Radio(["small", "medium"], value="small", label="model size")
        with gr.Row():
            self.beta = gr.Slider(BETA_RANGE[0], 10.0, value=1.0, step=0.1, label="β (KL weight)",
                                  elem_id="train-beta")
            self.lr = gr.Slider(LR_RANGE[0], 0.01, value=2e-3, step=1e-4, label="learning rate",
                                elem_id="train-lr")
        with gr.Row():
            self.seconds = gr.Slider(10, 600, value=DEFAULT_SECONDS, step=5,
                                     label=f"time budget (s; the API takes {SECONDS_RANGE[0]}–"
                                           f"{SECONDS_RANGE[1]})", elem_id="train-seconds")
            self.warmup = gr.Checkbox(True, label=f"KL warm-up (β ramps up over the first "
                                                  f"{KL_WARMUP_STEPS} steps)")
        self.name = gr.Textbox(label="your name (optional: the class view shows it beside your run)",
                               max_length=limits.NAME_LIMIT, max_lines=1, elem_id="train-name")
        with gr.Row():
            start = gr.Button("Start", variant="primary", elem_id="train-start")
            pause = gr.Button("Pause", elem_id="train-pause")
            resume = gr.Button("Resume", elem_id="train-resume")
            stop = gr.Button("Stop", variant="stop", elem_id="train-stop")
        with gr.Row():
            explore = gr.Button("Explore this model", elem_id="train-explore")
            download = gr.Button("Download this model", elem_id="train-download")
        self.zip = gr.File(label="the model as a zip", visible=False, elem_id="train-zip")
        self.watch = gr.Dropdown(self.service.watchable(), value=None, label="watch a run on this server",
                                 elem_id="train-watch", allow_custom_value=False)
        with gr.Accordion("Load a model zip", open=False):
            self.load = gr.File(file_types=[".zip"], type="filepath", label="a model zip "
                                "(from Download this model)", elem_id="train-load")
            self.load_info = gr.Markdown("")
        return start, pause, resume, stop, explore, download

    def _wire(self, model_dd, own, add, start, pause, resume, stop, explore, download) -> None:
        private = {"api_visibility": "private"}
        self.dataset.change(lambda d: gr.update(visible=d == UPLOAD), self.dataset, own, **private)
        self.dataset.change(self.ready, self.dataset, None, show_progress="hidden", **private)
        add.click(self.add_snapshot, [self.webcam, self.snapshots], [self.snapshots, self.snap_info], **private)
        data_inputs = [self.files, self.snapshots, self.colour, self.augment, self.flips]
        data_outputs = [self.prepared, self.data_info, self.sheet]
        for trigger in (self.files.change, self.snapshots.change, self.colour.change, self.augment.change,
                        self.flips.change):
            trigger(self.prepare, data_inputs, data_outputs, **private)
        start.click(self.on_start, [self.dataset, self.prepared, self.latent, self.beta, self.seconds, self.size,
                                    self.warmup, self.lr, self.name], [self.token, self.view, self.watch],
                    **private)
        pause.click(self.on_pause, self.token, None, **private)
        resume.click(self.on_resume, [self.token, self.seconds], None, **private)
        stop.click(self.on_stop, self.token, None, **private)
        for slider in (self.beta, self.lr):
            slider.release(self.on_set, [self.token, self.beta, self.lr], None, **private)
        explore.click(self.on_explore, [self.token, self.watch], [model_dd, self.view], **private)
        self.view.select(self.on_explore_ready, None, model_dd, **private)
        self.classes.html.select(self.on_tile, None, [self.watch, self.view], **private)
        download.click(self.on_download, [self.token, self.watch], self.zip, **private)
        self.load.upload(self.on_load_zip, self.load, [model_dd, self.load_info], **private)
        self.watch.change(self.on_watch, self.watch, self.view, **private)
        self.watch.focus(self.refresh_watchable, self.watch, self.watch, **private)
        model_dd.focus(self.refresh_picker, [self.picker_version, model_dd], [model_dd, self.picker_version],
                       **private)


def training_arrays(images: np.ndarray, aug: bool = False, flips: bool = False) -> dict:
    """What the worker trains on (DATA_NAME): a held-out tenth for the live view and the metrics, split
    before augmenting, so no shifted or flipped copy of a held-out picture is trained on. Flips only when
    asked (the tab's checkbox): a mirrored digit, letter or word is another picture, not the same one."""
    train, test = split_holdout(images, seed=0)
    if aug:
        train = augment(train, AUGMENT_COPIES, seed=0, flips=flips)
    return {"train_images": train, "train_labels": np.zeros(len(train), np.int64),
            "test_images": test, "test_labels": np.zeros(len(test), np.int64),
            "class_names": np.array(["your images"])}


def caller_of(request: gr.Request | None) -> str | None:
    """Who asks, for the per-caller limit: the page's (or gradio_client's) session; None outside a request."""
    session = getattr(request, "session_hash", None)
    return f"session:{session}" if session else None


def _upscaled(sheet: np.ndarray, target: int = 520) -> np.ndarray:
    """Nearest-neighbour upscaling, so 28-pixel pictures stay crisp."""
    f = max(1, target // max(sheet.shape[:2]))
    return sheet.repeat(f, 0).repeat(f, 1)


def text_palette() -> list[str]:
    from .charts import PALETTE
    return list(PALETTE)
