"""The encode panel: upload an image (or pick an example or a test image), see its reconstruction,
its posterior N(mu, sigma^2) per dimension, its ELBO terms, and where it lands on the map.

The examples and the test-set images to pick from are one gr.HTML of buttons (assets/pictures.js: the test images
inline as PNG data URLs), not a gr.Examples and a gr.Gallery: this tab is open when the page loads, and those two
components (the gallery brings Gradio's video player and hls.js, 0.5 MB) were a large part of the first view's
mount on a slow laptop. A click sends 'select' with which picture; the server puts its file in the upload box,
as the gallery's click did."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from model.nets.limits import ExplorerError
from model.serving import requests as ex
from model.serving import typicality as st
from model.serving.registry import LoadedModel, ModelRegistry
from model.store.pictures import png_data_url

from . import text
from .charts import posterior_figure
from .explore import ExplorePanel, map_value, next_seed
from .files import image_file, upload_path
from .runtime import asset_url
from .server import ASSETS, user_errors

PICKER_TEMPLATE = ("<div class='vae-pick'><p class='vae-pick-label'>examples (drawings on white: inverted to match "
                   "the data)</p><div class='vae-pick-examples'></div><p class='vae-pick-label'><strong>or a test-set "
                   "image:</strong></p><div class='vae-pick-tests'></div></div>")


def examples() -> list[str]:
    """The drawings shipped under assets/examples (light on white: inverted to match the data)."""
    return sorted(str(p) for p in (ASSETS / "examples").glob("*.png"))


def thumbnails(m: LoadedModel) -> list[tuple[str, str]]:
    """A few test-set images per class, as (file, caption) pairs for the gallery."""
    return [(image_file(image), caption) for image, caption in ex.test_set_gallery(m)]


def picker_value(m: LoadedModel) -> dict:
    """What the picture picker shows (assets/pictures.js): the shipped examples by URL, and the model's test-set
    thumbnails at their own resolution as PNG data URLs (about 0.3 KB each; the page scales them up crisply)."""
    size = m.config.image_size
    return {"model": m.name, "examples": [{"src": asset_url(f"examples/{Path(p).name}"),
                                           "name": Path(p).stem.replace("-", " ")} for p in examples()],
            "tests": [{"src": png_data_url(im), "caption": c} for im, c in ex.test_set_gallery(m, size=size)]}


def selected_image(gallery, evt: gr.SelectData):
    """The path of the gallery item a click selected."""
    item = gallery[evt.index]
    return item[0] if isinstance(item, (list, tuple)) else item["image"]["path"]


def how_typical(m: LoadedModel, x) -> str:
    """The compact line under the ELBO: the verdict and both percentiles of the model input x (1, C, H, W), as the
    "Is this typical?" tab judges the same pixels; a model that cannot judge says why."""
    try:
        r = st.judge_pixels(m, st.pixels_of(x)[0], iwae=False, heat=False)
    except ExplorerError as e:                 # no likelihood (an autoencoder), or no stored test distribution
        return f"**How typical is it?** {e}"
    return f"**How typical is it?** {text.typical_line(r)} (details: the *Is this typical?* tab)"


def your_image(elem_id: str | None = None) -> gr.Image:
    """An image to encode or judge: the Encode tab's, "Is this typical?"'s, and /encode's and /typicality's hidden
    twin (the same parameter name, "image", and the same upload checks)."""
    return gr.Image(label="your image (any size; it is fitted into the model's square)", type="filepath",
                    sources=["upload", "clipboard"], height=240, elem_id=elem_id)


def reconstruction(**shown) -> gr.Image:
    return gr.Image(label="reconstruction", type="pil", format="png", **shown)


def encoding_json(**shown) -> gr.JSON:
    return gr.JSON(label="encoding (mu, logvar, recon, kl, elbo, map_xy)", **shown)


class EncodePanel:
    def __init__(self, registry: ModelRegistry, explore: ExplorePanel) -> None:
        self.registry = registry
        self.explore = explore

    # ------------------------------------------------------------ handlers
    def encoding(self, image, model: str) -> tuple:
        """ex.encode, split into the two images (PIL) and the JSON-able rest (the API's dict, the page's
        state); callers write only the images they return."""
        info = ex.encode(self.registry.get(model), upload_path(image))
        return info.pop("recon_image"), info.pop("input_image"), info

    @user_errors
    def on_upload(self, image, model: str) -> dict:
        """Everything the page shows for an upload, from one encoding, and how typical the same pixels are."""
        m = self.registry.get(model)
        x = ex.load_upload(m, upload_path(image))                    # decoded once, for both
        info = ex.encode_input(m, x)
        recon, model_input = info.pop("recon_image"), info.pop("input_image")
        chart = posterior_figure(info["mu"], info["sigma"], info["z"])
        return {self.recon: image_file(recon), self.info: info, self.model_input: image_file(model_input),
                self.plot: chart, self.stats: text.stats_markdown(info), self.typical: how_typical(m, x),
                self.explore.map: map_value(model, upload=info["map_xy"]), self.state: info,
                self.first: gr.update(visible=False), self.results: gr.update(visible=True),
                self.chart: gr.update(visible=True)}

    @user_errors
    def resample(self, model: str, info: dict, seed: int) -> dict:
        if not info:
            raise gr.Error("encode an image first")
        if info.get("logvar") is None:
            raise gr.Error(f"{model} gives one point and no σ: there is no ε to draw again (pick a VAE)")
        r = ex.reparameterize(self.registry.get(model), info["mu"], info["logvar"], int(seed))
        new = dict(info, z=r["z"], eps=r["eps"])
        chart = posterior_figure(info["mu"], info["sigma"], r["z"])
        return {self.recon: image_file(r["image"]), self.plot: chart, self.state: new,
                self.eps_text: text.eps_markdown(r["eps"])}

    def send_to_sliders(self, model: str, info: dict) -> dict:
        if not info:
            raise gr.Error("encode an image first")
        return self.explore.set_z(model, info["mu"])

    def refresh(self, model: str) -> dict:
        return {self.picker: picker_value(self.registry.get(model))}

    @user_errors
    def on_pick(self, model: str, evt: gr.SelectData) -> str:
        """A click on the picker: an example's file, or the test-set image's (as the gallery gave it, 84 px)."""
        kind, i = evt.value, evt.index
        choices = examples() if kind == "example" else ex.test_set_gallery(self.registry.get(model)) \
            if kind == "test" else []
        if not isinstance(i, int) or not 0 <= i < len(choices):
            raise ExplorerError(f"no picture {i!r} among the {kind!s:.20}s")
        return choices[i] if kind == "example" else image_file(choices[i][0])   # only the picked one written

    # ------------------------------------------------------------ layout and events
    def build(self, model_dd: gr.Dropdown, default: LoadedModel) -> None:
        # The results (two images, the stats, the chart, the JSON) stay unmounted until the first encoding: this
        # tab is open when the page loads, and Gradio builds only the components that are visible, so a slow
        # laptop's first view does not pay for nine components that show nothing yet.
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                self.upload = your_image(elem_id="upload")
                self.picker = gr.HTML(picker_value(default), html_template=PICKER_TEMPLATE, elem_id="test-gallery",
                                      js_on_load=(ASSETS / "pictures.js").read_text(), apply_default_css=False)
            self.first = gr.Markdown(text.ENCODE_FIRST, elem_id="encode-first")
            with gr.Column(scale=2, visible=False) as self.results:
                with gr.Row():
                    self.model_input = gr.Image(label="model input (preprocessed)", type="pil", interactive=False,
                                                height=200, buttons=["download"])
                    self.recon = reconstruction(interactive=False, height=200, elem_id="recon", buttons=["download"])
                self.stats = gr.Markdown("", elem_id="elbo-stats")
                self.typical = gr.Markdown("", elem_id="encode-typical")
                with gr.Row():
                    resample_btn = gr.Button("Resample ε (reparameterization)", size="sm")
                    send_btn = gr.Button("Send μ to sliders", size="sm", variant="primary")
                self.eps_text = gr.Markdown()
            with gr.Column(scale=3, visible=False) as self.chart:
                self.plot = gr.Plot(label="posterior per dimension")
                self.info = encoding_json(open=False, max_height=260)
        gr.Markdown(text.TEACH["encode"], elem_classes="teach")
        self.state, resample_seed = gr.State({}), gr.State(1)
        self.refresh_outputs = [self.picker]

        # uploads reach the handler as Gradio's file data (preprocess=False, see server.upload_path)
        shown = [self.recon, self.info, self.model_input, self.plot, self.stats, self.typical, self.explore.map,
                 self.state, self.first, self.results, self.chart]
        self.upload.change(self.on_upload, [self.upload, model_dd], shown,
                           api_visibility="private", preprocess=False)
        self.picker.select(self.on_pick, model_dd, self.upload, api_visibility="private")
        resample_btn.click(next_seed, resample_seed, resample_seed, api_visibility="private").then(
            self.resample, [model_dd, self.state, resample_seed], [self.recon, self.plot, self.state, self.eps_text],
            api_visibility="private")
        send_btn.click(self.send_to_sliders, [model_dd, self.state], self.explore.z_outputs, api_visibility="private")
