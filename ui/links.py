"""Lesson links: the view a teacher shares, kept in the page's URL.

    /?model=fashion-mnist&tab=interpolate&z=0.5,-1.2,...&a=...&b=...&t=0.25&T=0.8&seed=7

The page writes the URL as the view changes (assets/links.js: the model, the tab, z rounded to 2
decimals, the walk's two endpoints and t, the temperature and the seed) and its "Copy link" button copies
it. Opening a link, the server reads the query (`parse`: every value checked against a strict pattern
and its range, never evaluated) and restores the view: the page load hands links.js the link's z, which it
applies once the link's model is painted, and its model and tab, which links.js asks the server to set (only
when the link sets them); the sampler's temperature and seed and the walk are kept for their tabs, which are
built when first opened. A refused value is named in one line, and the view keeps its default for it.
"""
from __future__ import annotations

import re
from typing import Mapping

import gradio as gr
import numpy as np

from model.nets import limits as checks
from model.nets.walk import typical_radius
from model.serving.registry import ModelRegistry

from .runtime import HEAD
from .server import ASSETS
from .walk import WalkView

NUMBER = re.compile(r"-?\d{1,3}(\.\d{1,6})?")           # what a link's numbers look like: no NaN, no 1e9
SEED = re.compile(r"\d{1,10}")
MAX_VALUES = 512                                        # latent_dim's upper bound (model/nets/config.py)
MAX_FIELD = 8 * MAX_VALUES                              # characters; a longer value is refused unread
LINKS_TEMPLATE = ("<div class='vae-links'><button class='vae-links-copy' type='button'>Copy link</button>"
                  "<input class='vae-links-url' type='text' readonly aria-label='a link to this view'>"
                  "<span class='vae-links-msg' role='status'></span></div>")


class LinkError(ValueError):
    """One refused value: `field` and `str(e)`, why; neither echoes the value."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(why)
        self.field = field


def number(text: str, lo: float, hi: float, name: str) -> float:
    if len(text) > 12 or not NUMBER.fullmatch(text) or not lo <= float(text) <= hi:
        raise LinkError(name, f"not a number from {lo:g} to {hi:g}")
    return float(text)


def vector(text: str, dim: int, model: str, name: str, lim: float = checks.SLIDER_LIMIT) -> list[float]:
    """A comma-separated latent vector of exactly dim numbers within the sliders' range (±lim)."""
    if len(text) > MAX_FIELD or text.count(",") >= MAX_VALUES:
        raise LinkError(name, f"far too long; {model} takes {dim} values")
    parts = text.split(",")
    if len(parts) != dim:
        raise LinkError(name, f"{len(parts)} values; {model} takes {dim}")
    try:
        return [number(p, -lim, lim, name) for p in parts]
    except LinkError:
        raise LinkError(name, f"each value must be a number from {-lim:g} to {lim:g}") from None


def parse(query: Mapping[str, str], registry: ModelRegistry, default_model: str, tabs: list[str]) -> tuple[dict, str]:
    """The link's view (only the values that passed) and a one-line message naming those refused ("" if none)."""
    state: dict = {"model": default_model}
    refused: list[LinkError] = []

    def take(key: str, read):
        if key in query:
            try:
                state[key] = read(str(query[key]))
            except LinkError as e:
                refused.append(e)

    take("model", lambda v: _model(v, registry))
    m, name = registry.get(state["model"]), state["model"]
    lim = m.latent_limit                                           # an autoencoder's codes reach further
    if "model" not in query or state["model"] == query.get("model"):    # z of another model means nothing
        for key in ("z", "a", "b"):
            take(key, lambda v, key=key: vector(v, m.dim, name, key, lim))
        take("t", lambda v: number(v, 0.0, 1.0, "t"))
    take("tab", lambda v: _choice(v, tabs, "tab"))
    take("T", lambda v: number(v, 0.0, checks.MAX_TEMPERATURE, "temperature T"))
    take("seed", _seed)
    if ("a" in state) != ("b" in state):
        state.pop("a", None), state.pop("b", None)
        refused.append(LinkError("a and b", "a walk needs both ends"))
    return state, message(refused)


def message(refused: list[LinkError]) -> str:
    """One line: which values were refused, and why the first one was."""
    if not refused:
        return ""
    names = ", ".join(e.field for e in refused)
    return f"This link's {names} {'was' if len(refused) == 1 else 'were'} refused ({refused[0]}): showing the defaults."


def _model(v: str, registry: ModelRegistry) -> str:
    if v not in registry.names():
        raise LinkError("model", "not one of this server's models")
    return v


def _choice(v: str, choices: list[str], name: str) -> str:
    if v not in choices:
        raise LinkError(name, f"not one of {', '.join(choices)}")
    return v


def _seed(v: str) -> int:
    if not SEED.fullmatch(v) or int(v) > checks.MAX_SEED:
        raise LinkError("seed", f"not a whole number from 0 to {checks.MAX_SEED}")
    return int(v)


class LinksView:
    """The Copy-link bar (assets/links.js) and the page load that restores a link's view."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def build(self) -> gr.HTML:
        self.html = gr.HTML({}, html_template=LINKS_TEMPLATE, elem_id="links", apply_default_css=False,
                            js_on_load=(ASSETS / "links.js").read_text(), head=HEAD)    # page state, Gradio's DOM
        return self.html

    def restore(self, query: Mapping[str, str], tabs: dict[str, str]) -> dict:
        """The load's outputs for a query: links.js's value (z, the message, and `view`: the link's model and
        tab, which links.js asks `show` for, only when the link sets them) and what the link sets in tabs not
        yet built (T, seed, the walk). The page load touches nothing else: its outputs are what the page
        re-renders when it answers, and on a slow laptop the model picker and the tabs were most of that."""
        state, message = parse(query, self.registry, self.registry.default(), list(tabs.values()))
        m = self.registry.get(state["model"])
        walk = None
        if "a" in state:
            walk = WalkView.value(m, {"z": np.array([state["a"], state["b"]]), "radius": typical_radius(m.dim)})
            walk["t"] = state.get("t", 0.0)
        view = ({"model": m.name} if m.name != self.registry.default() else {}) | \
            ({"tab": state["tab"]} if "tab" in state else {})
        value = {"model": m.name, "z": state.get("z"), "message": message, "tabs": tabs, "T": state.get("T"),
                 "seed": state.get("seed"), "walk": {"model": m.name, "a": state["a"], "b": state["b"],
                                                     "t": state.get("t", 0.0)} if "a" in state else None,
                 "view": view or None}
        out = {self.html: value}
        preset = {k: state[k] for k in ("T", "seed") if k in state} | ({"walk": walk} if walk is not None else {})
        if preset:
            out[self.preset] = preset
        return out

    def show(self, view, tabs: dict[str, str]) -> dict:
        """The link's model and tab ({"model", "tab"}, as restore sent them to links.js, which sends them back:
        checked again, as any value from the page): the picker, the tab, and the tab built if it is built
        when first opened."""
        view = view if isinstance(view, dict) else {}
        query = {k: str(view[k]) for k in ("model", "tab") if view.get(k) is not None}
        state, _ = parse(query, self.registry, self.registry.default(), list(tabs.values()))
        out = {}
        if state["model"] != self.registry.default():
            out[self.model_dd] = gr.update(value=state["model"])
        if "tab" in state:
            out[self.tabs] = gr.Tabs(selected=state["tab"])
            if state["tab"] in self.opened:
                out[self.opened[state["tab"]]] = True
        return out

    def wire(self, demo: gr.Blocks, model_dd, tabs: gr.Tabs, opened: dict[str, gr.State], preset: gr.State) -> None:
        """opened: the flags of the tabs built when first opened (ui/lazy.py); preset: what a link sets in them
        ({"T", "seed", "walk"}), read when they are built."""
        self.model_dd, self.tabs, self.opened, self.preset = model_dd, tabs, opened, preset
        names = {t.label: t.id for t in tabs.children if isinstance(t, gr.Tab)}

        def on_load(request: gr.Request):
            return self.restore(dict(request.query_params) if request else {}, names)

        def on_view(evt: gr.SelectData):            # links.js triggers 'select' with the view restore sent it
            return self.show(evt.value, names)
        demo.load(on_load, None, [preset, self.html], api_visibility="private", show_progress="hidden")
        self.html.select(on_view, None, [model_dd, tabs, *opened.values()], api_visibility="private",
                         show_progress="hidden")
