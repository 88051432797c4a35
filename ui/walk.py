"""The walk, live: a t-scrubber and Play between two images' means, the linear and the spherical point
decoded side by side in the page (assets/walk.js), |z| along both paths with t marked, and both paths
drawn on the map. The Interpolate panel places it and sends it the endpoints."""
from __future__ import annotations

import time

import gradio as gr
import numpy as np

from model.serving.registry import LoadedModel

from .runtime import PageRuntime, page_rules

WALK_TEMPLATE = (
    "<div class='vae-walk'><div class='vae-walk-row'>"
    "<figure><canvas class='vae-walk-linear' role='img' aria-label='linear interpolation at t'></canvas>"
    "<figcaption>linear</figcaption></figure>"
    "<figure><canvas class='vae-walk-spherical' role='img' aria-label='spherical interpolation at t'></canvas>"
    "<figcaption>spherical</figcaption></figure>"
    "<canvas class='vae-walk-chart' width='360' height='200' role='img' aria-label='|z| along both paths'></canvas>"
    "</div><div class='vae-walk-controls'><button class='vae-walk-play' type='button'>Play</button>"
    "<input class='vae-walk-t' type='range' min='0' max='1000' value='0' aria-label='t from A to B'>"
    "<span class='vae-walk-tval'>t = 0.00</span></div>"
    "<div class='vae-walk-status'>Press Interpolate to walk from A to B here, live.</div></div>")


class WalkView:
    def __init__(self, runtime: PageRuntime) -> None:
        self.runtime = runtime

    @staticmethod
    def value(m: LoadedModel, walk: dict) -> dict:
        """For walk.js, from ex.interpolate_images' result: the path's ends (the two means) and √D."""
        c, path = m.config, walk["z"]
        return {"model": m.name, "a": np.round(path[0].astype(float), 5).tolist(),
                "b": np.round(path[-1].astype(float), 5).tolist(), "shape": [c.channels, c.image_size, c.image_size],
                "radius": walk["radius"], "rules": page_rules(), "seq": time.monotonic_ns()}

    def build(self, value: dict | None = None) -> gr.HTML:
        self.html = self.runtime.html(value or {"rules": page_rules()}, WALK_TEMPLATE, "walk.js", "walk")
        return self.html
