"""The floor: a bare Gradio app that imports torch and does nothing else.

    python bench/bare_app.py --port 7861

Launched the way app.py launches (same queue settings, ssr_mode off, 127.0.0.1). Its endpoints
return data of the same shape as ours without computing anything:
  /noop           (z, model) -> one fresh 280x280 PNG   (the floor for every interaction target)
  /echo           (z) -> z                               (JSON only, no image)
  /noop_gallery   (n) -> n fresh 280x280 PNGs            (informational: what a 16-image gallery costs)
  /noop_upload    (file, model) -> 280x280 PNG           (informational: an upload plus an image)
  /noop_frames    (file_a, file_b, steps) -> steps PNGs + a GIF   (informational)
  /same           (z, model) -> the same 280x280 PNG every call     (bench/classroom.py: identical requests)
  /same_upload    (file, model) -> the same 280x280 PNG
  /same_gallery   (n) -> the same n 280x280 PNGs every call
  /same_frames    (file_a, file_b, steps) -> the same steps PNGs + a GIF
and the page has one slider wired like ours (input event, always_last) to a 280x280 image, for
bench/browser.py.
"""
from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402,F401  (the floor includes torch's import, like the app)
from PIL import Image  # noqa: E402

SIZE = 280
_rng = np.random.default_rng(0)


def fresh_image(seed: int | None = None) -> Image.Image:
    """A blocky 28x28 picture upscaled 10x (like a decoded image); new pixels every call so
    Gradio's cache writes a new file, as it does for our decoded images. With a seed: the same
    pixels for the same seed, as identical requests to our app get."""
    rng = _rng if seed is None else np.random.default_rng(seed)
    small = (rng.random((28, 28)) * 255).astype(np.uint8)
    return Image.fromarray(small).resize((SIZE, SIZE), Image.NEAREST)


_GIF = os.path.join(tempfile.mkdtemp(prefix="bare-app-"), "loop.gif")
_frames = [fresh_image() for _ in range(4)]
_frames[0].save(_GIF, save_all=True, append_images=_frames[1:], duration=100, loop=0)


def noop(z, model):
    return fresh_image()


def echo(z):
    return z


def noop_gallery(n):
    return [fresh_image() for _ in range(int(n))]


def noop_upload(path, model):
    return fresh_image()


def noop_frames(path_a, path_b, steps):
    return [fresh_image() for _ in range(int(steps))], _GIF


def same(z, model):
    return fresh_image(0)


def same_upload(path, model):
    return fresh_image(0)


def same_gallery(n):
    return [fresh_image(i) for i in range(int(n))]


def same_frames(path_a, path_b, steps):
    return same_gallery(steps), _GIF


def on_slide(v):
    return fresh_image()


def build() -> gr.Blocks:
    with gr.Blocks(title="bare") as demo:
        decoded = gr.Image(fresh_image(), type="pil", format="png", height=300, interactive=False,
                           elem_id="decoded", label="decoded")
        slider = gr.Slider(-4, 4, value=0.0, step=0.05, label="z0", elem_classes="zslider")
        slider.input(on_slide, slider, decoded, trigger_mode="always_last", show_progress="hidden",
                     api_visibility="private")
        with gr.Row(visible=False):
            z = gr.JSON()
            model = gr.Textbox()
            n = gr.Number(precision=0)
            img = gr.Image(type="pil", format="png")
            f_a = gr.Image(type="filepath")
            f_b = gr.Image(type="filepath")
            gal = gr.Gallery(format="png")     # as our galleries
            gif = gr.Image(type="filepath")
            out_json = gr.JSON()
            btn = gr.Button()
        btn.click(noop, [z, model], img, api_name="noop")
        btn.click(echo, z, out_json, api_name="echo")
        btn.click(noop_gallery, n, gal, api_name="noop_gallery")
        btn.click(noop_upload, [f_a, model], img, api_name="noop_upload")
        btn.click(noop_frames, [f_a, f_b, n], [gal, gif], api_name="noop_frames")
        btn.click(same, [z, model], img, api_name="same")
        btn.click(same_upload, [f_a, model], img, api_name="same_upload")
        btn.click(same_gallery, n, gal, api_name="same_gallery")
        btn.click(same_frames, [f_a, f_b, n], [gal, gif], api_name="same_frames")
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=7861)
    a = p.parse_args()
    build().launch(server_name="127.0.0.1", server_port=a.port, ssr_mode=False, max_file_size="10mb")
