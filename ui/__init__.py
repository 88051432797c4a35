"""The Gradio page over model/: `build_demo(weights)` composes one module per panel.

    explore.py  sliders, decoded image, traversal, map     encode.py  uploads and the posterior
    interpolate.py  walks between two images               sample.py  draws from the prior
    manifold.py  Figure 4 of Kingma & Welling              about.py   metrics and training curves
    api.py  the public endpoints     text.py  the words     charts.py  Plotly figures
    server.py  serving: theme, launch, errors, files, memory     page.py  build_demo
"""
import os

# Gradio reads this when it is imported: no usage reports leave the machine (the app works offline).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from .page import build_demo  # noqa: E402

__all__ = ["build_demo"]
