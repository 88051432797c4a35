"""build_demo: the page, composed of one panel per module. Each panel owns its layout and events;
here they are placed, and a change of model refreshes every panel that shows one. The first view and the
Encode tab are built with the page; the other tabs when first opened (ui/lazy.py)."""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from types import SimpleNamespace

import gradio as gr

from model.serving.registry import LoadedModel, ModelRegistry
from model.serving.training import TrainingService
from model.store.onnx import cache_root

from . import text
from .about import AboutPanel
from .api import Api
from .compare import ComparePanel
from .encode import EncodePanel
from .explore import ExplorePanel
from .interpolate import InterpolatePanel
from .lazy import LazyTabs, view
from .links import LinksView
from .manifold import ManifoldPanel
from .runtime import PageRuntime
from .sample import SamplePanel
from .server import ASSETS, PLOTLY_JS, ROOT, release_memory, user_errors
from .sketch import SketchView
from .train import TrainPanel
from .typical import TypicalPanel
from .walk import WalkView


def load_registry(weights: str | os.PathLike) -> tuple[ModelRegistry, LoadedModel]:
    """The models under weights/ (their entries: only the page's default model is loaded) and that default
    model; a folder that fails its checks, or a default that fails to load, is named on stderr and left out."""
    registry = ModelRegistry(weights, on_evict=release_memory)
    default = registry.load_default()
    for w in registry.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return registry, default


class ExplorerBlocks(gr.Blocks):
    """gr.Blocks with the HTTP API's hidden components on a page of their own (`/http-api`), which the
    explorer's page is then not sent, but which no navbar announces: Gradio draws one for an app of two pages,
    gr.Navbar(visible=False) notwithstanding, and its page then mounts piece by piece (a layout shift of 0.7-1.0
    where the one-page app had 0.05). The page is routed as any; the page config lists only the pages shown."""

    def get_config_file(self):
        config = super().get_config_file()
        config["pages"] = [page for page in config["pages"] if page[2]]       # (path, name, show_in_navbar)
        return config


class ModelSwitch:
    """A new model in the picker: its one-line description and each panel's refresh ({component: update})."""

    def __init__(self, registry: ModelRegistry, info: gr.Markdown, panels: list) -> None:
        self.registry, self.info, self.panels = registry, info, panels
        self.outputs = [info, *(c for p in panels for c in p.refresh_outputs)]

    @user_errors
    def on_model(self, model: str) -> dict:
        updates = {self.info: text.describe(self.registry.get(model))}
        for panel in self.panels:
            updates |= panel.refresh(model)
        return updates


def interpolating(panel: InterpolatePanel) -> InterpolatePanel:
    """This page's interpolate panel, with its own live walk (the walk's component is the page's too)."""
    v = view(panel)
    v.walk_view = view(panel.walk_view)
    return v


def opened_train(panel: TrainPanel, model_dd: gr.Dropdown, tab: gr.Tab) -> None:
    """The Train tab, built as it opens: the training processes start now (with the default data set in
    memory), and again whenever the tab is opened after they stopped, so the first live point does not wait."""
    v = view(panel)
    v.build(model_dd)
    v.wire_tab(tab)
    panel.ready(v.dataset.value)


def make_panels(registry: ModelRegistry, service: TrainingService) -> SimpleNamespace:
    """One of each panel: what the panels share (the registry, the runtime, the training service); each page
    builds the tabs it opens from its own copies (ui/lazy.py)."""
    runtime = PageRuntime(registry)                        # the in-page decoder, encoder and map rule
    explore = ExplorePanel(registry, runtime)
    return SimpleNamespace(
        explore=explore, encode=EncodePanel(registry, explore), links=LinksView(registry),
        interpolate=InterpolatePanel(registry, WalkView(runtime)), sample=SamplePanel(registry, explore),
        manifold=ManifoldPanel(registry), about=AboutPanel(registry), sketch=SketchView(registry, runtime),
        compare=ComparePanel(registry), typical=TypicalPanel(registry), train=TrainPanel(registry, service, runtime))


def build_tabs(p: SimpleNamespace, registry: ModelRegistry, model_dd: gr.Dropdown, default: LoadedModel,
               preset: gr.State) -> tuple[gr.Tabs, LazyTabs]:
    """The tabs under the first view: Encode built with the page, the others when first opened."""
    lazy, get = LazyTabs(), registry.get
    with gr.Tabs() as tabs:
        with gr.Tab("Encode", id="encode"):
            p.encode.build(model_dd, default)
        lazy.tab("Draw", "draw", lazy.follow_model(p.sketch, model_dd, lambda v, m: v.build(get(m))), [model_dd])
        lazy.tab("Is this typical?", "typical",
                 lazy.follow_model(p.typical, model_dd, lambda v, m: v.build(model_dd, get(m))), [model_dd])
        lazy.tab("Interpolate", "interpolate", lambda q: interpolating(p.interpolate).build(model_dd, q.get("walk")),
                 [preset])
        lazy.tab("Sample the prior", "sample",
                 lambda q: view(p.sample).build(model_dd, q.get("T", 1.0), q.get("seed", 0)), [preset])
        lazy.tab("Manifold (2-D)", "manifold",
                 lazy.follow_model(p.manifold, model_dd, lambda v, m: v.build(get(m))), [model_dd])
        lazy.tab("Compare: why a VAE", "compare", lambda: view(p.compare).build(), elem_id="compare-tab")
        train_tab = lazy.tab("Train it live", "train", lambda: opened_train(p.train, model_dd, train_tab),
                             elem_id="train-tab")
        lazy.tab("About", "about", lazy.follow_model(p.about, model_dd, lambda v, m: v.build(get(m))), [model_dd])
    return tabs, lazy


def build_demo(weights: str | os.PathLike = ROOT / "weights", runs: str | os.PathLike | None = None,
               training: dict | None = None) -> gr.Blocks:
    """The page over the models in `weights`; live-training jobs live in `runs` (a private temporary
    folder when not given); `training`: TrainingService's settings (max_running, max_queue, threads, device)."""
    registry, default = load_registry(weights)
    if runs is None:                       # a page built for tests or a notebook: its runs go when it does
        runs = tempfile.mkdtemp(prefix="vae-runs-")
        atexit.register(shutil.rmtree, runs, True)
    service = TrainingService(runs, registry, **(training or {}))
    onnx = cache_root() / "onnx"                           # the decoders the page runs (model/store/onnx.py)
    onnx.mkdir(parents=True, exist_ok=True)
    gr.set_static_paths([str(PLOTLY_JS), str(ASSETS), str(onnx)])   # all the page may load besides uploads
    p = make_panels(registry, service)

    def model_picker(**shown) -> gr.Dropdown:
        # allow_custom_value: a model trained after start-up (the Train tab) is not among the choices
        # the page was built with; every handler checks the name against the registry itself
        return gr.Dropdown(text.picker_choices(registry), value=default.name, label="Model",
                           allow_custom_value=True, **shown)

    with ExplorerBlocks(title="VAE Latent Explorer", delete_cache=(600, 3600)) as demo:
        gr.HTML(text.TITLE)
        with gr.Row(equal_height=False):
            model_dd = model_picker(scale=1, min_width=200, elem_id="model-picker")
            model_info = gr.Markdown(text.describe(default), elem_id="model-info")
        p.links.build()                                    # Copy link; a link restores its view
        p.explore.build(model_dd, default)
        preset = gr.State({})                              # what a lesson link sets in tabs not yet built
        tabs, lazy = build_tabs(p, registry, model_dd, default, preset)
        switch = ModelSwitch(registry, model_info, [p.explore, p.encode])
        model_dd.change(switch.on_model, model_dd, switch.outputs, api_visibility="private")
        p.links.wire(demo, model_dd, tabs, lazy.opened, preset)
    with demo.route("HTTP API", "http-api", show_in_navbar=False):    # its page: the explorer's is not sent it
        Api(registry, p.encode, p.interpolate, p.compare, p.sample, p.train, p.typical).build(model_picker)
    demo.queue(default_concurrency_limit=4, max_size=64)
    demo.training_service = service                        # app.py stops its workers at exit
    return demo
