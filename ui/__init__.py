"""The Gradio page over model/: `build_demo(weights)` (page.py) composes one module per panel, each with
its layout and its events.

    explore.py  sliders, decoded image, traversal, map     encode.py  uploads and the posterior
    sketch.py  the sketch pad                              interpolate.py, walk.py  walks between two images
    sample.py  draws from the prior                        manifold.py  Figure 4 of Kingma & Welling
    compare.py  the lab side by side                       about.py   metrics and training curves
    links.py  lesson links                                 runtime.py  the in-page decoder, encoder, map rule
    api.py  the public endpoints     text.py  the words     charts.py  Plotly figures and the palette
    server.py  theme, launch, errors, Ctrl-C, memory       files.py   the files handlers return
"""
import os

# Gradio reads this when it is imported: no usage reports leave the machine (the app works offline).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from .page import build_demo  # noqa: E402

__all__ = ["build_demo"]
