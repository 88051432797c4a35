"""Tabs built the first time a student opens them. A page that built every tab at load handed the browser
all of their components at once (223, in a 0.5 MB configuration), and Gradio's first render of that tree,
on the main thread, was most of what a slow laptop waited for. Here each of these tabs holds only a flag
and a gr.render: opening the tab (or a lesson link that opens it) sets the flag, and the render builds that
page's own view of the panel, with its events, inside the tab. Nothing else in the page changes.

Each render builds a fresh copy of the panel (`view`): the components, and the handlers bound to them,
belong to that one page, while what the panels share (the registry, the runtime, the training service)
is the same object. A panel that shows a model follows the picker from then on by its own `refresh`.
"""
from __future__ import annotations

import copy
from typing import Callable

import gradio as gr
from gradio.components import Component
from gradio.context import LocalContext

from .server import user_errors


def view(panel):
    """This page's own copy of a panel: shares the panel's services, gets its own components when built."""
    return copy.copy(panel)


def settle_interactivity() -> None:
    """Say outright which components of this render take input. Gradio's page decides it, for a component
    that leaves it open, from the events the page was first sent: one built later was shown read-only (or an
    output shown as an upload box). As for the first page, a component takes input when an event reads it."""
    config, renderable = LocalContext.blocks_config.get(), LocalContext.renderable.get()
    read = {c._id for fn in config.fns.values() if fn.rendered_in is renderable for c in fn.inputs}
    for block in list(config.blocks.values()):
        if block.rendered_in is renderable and isinstance(block, Component) and block.interactive is None:
            block.interactive = block._id in read


class LazyTabs:
    """The lazily built tabs of one gr.Tabs: id -> the flag that opens it."""

    def __init__(self) -> None:
        self.opened: dict[str, gr.State] = {}

    def tab(self, label: str, tab_id: str, build: Callable, inputs: list | None = None, **tab_args) -> gr.Tab:
        """A tab whose content is build(*values of inputs), run once per page, when it is first opened."""
        with gr.Tab(label, id=tab_id, **tab_args) as tab:
            opened = gr.State(False)

            @gr.render(inputs=[opened, *(inputs or [])], triggers=[opened.change], show_progress="hidden")
            def content(is_open: bool, *values):
                if is_open:
                    build(*values)
                    settle_interactivity()
        # the flag changes once (False -> True), so the render runs once; a tab opened again keeps its state
        tab.select(lambda: True, None, opened, api_visibility="private", show_progress="hidden")
        self.opened[tab_id] = opened
        return tab

    def follow_model(self, panel, model_dd: gr.Dropdown, build: Callable) -> Callable:
        """build(view, model name) for a panel that shows the picker's model: the view it builds is then
        refreshed by each new choice (panel.refresh -> {component: update})."""
        def built(model: str) -> None:
            v = view(panel)
            build(v, model)
            model_dd.change(user_errors(v.refresh), model_dd, v.refresh_outputs, api_visibility="private",
                            show_progress="hidden")
        return built
