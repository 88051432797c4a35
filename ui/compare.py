"""The Compare tab: 2-4 models side by side on the same inputs (model.serving.side_by_side), telling the story
autoencoder -> VAE -> beta-VAE -> VQ-VAE: points vs clouds, samples that are or are not clothes,
the tug-of-war as a rate-distortion curve, the space organising during training, and the blur in
numbers. Its report is also the public /compare endpoint (ui/api.py)."""
from __future__ import annotations

import gradio as gr
import plotly.graph_objects as go
from gradio.components.plot import PlotData
from PIL import Image

from model.nets import limits as checks
from model.nets.kinds import kind_of
from model.nets.limits import MAX_SEED
from model.serving import requests as ex
from model.serving import side_by_side as cmp
from model.serving.registry import ModelRegistry
from model.store.pictures import centre_crop, grid, png_data_url, strip

from . import text
from .charts import cloud_traces, clouds_figure, organise_figure, quality_figure, rate_distortion_figure
from .files import image_file, upload_path
from .interpolate import example_pairs, test_pair_files
from .runtime import HEAD, PLOTLY_HEAD
from .server import ASSETS, user_errors

DEFAULT_MODELS = ("fashion-mnist-2d-ae", "fashion-mnist-2d-vae", "fashion-mnist-2d-beta4")
INTERPOLATION_STEPS = 8
ANIMATION_TEMPLATE = "<div class='vae-anim-note'></div><div class='vae-anim'></div>"


def default_models(registry: ModelRegistry) -> list[str]:
    """The lab's 2-D trio when shipped, else the first two models."""
    names = [n for n in DEFAULT_MODELS if n in registry]
    return names if len(names) >= cmp.MIN_MODELS else registry.names()[:cmp.MIN_MODELS]


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(height=120, template="plotly_white", xaxis_visible=False, yaxis_visible=False,
                      margin=dict(l=10, r=10, t=10, b=10))
    return fig


def kl_text(kl) -> str:
    return "KL none (no prior)" if kl is None else f"KL {kl:.1f}"


def compared_image(elem_id: str | None = None) -> gr.Image:
    """The image compared: the page's, or /compare's hidden twin (the same name and checks)."""
    return gr.Image(label="image (reconstructed, and the walk's start)", type="filepath", height=160,
                    sources=["upload", "clipboard"], elem_id=elem_id)


def compare_seed() -> gr.Number:
    return gr.Number(0, label="seed (the same draws for every model)", precision=0, minimum=0, maximum=MAX_SEED)


class ComparePanel:
    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    # ------------------------------------------------------------ the report (page and API)
    def report(self, image, names, seed) -> dict:
        """Each model's reconstruction, "samples" and measures for the same image and seed, as a dict
        of plain values (images as PNG data URLs): what /compare returns."""
        models = cmp.pick_models(self.registry, names)
        seed = checks.seed(seed)
        encodings = cmp.reconstructions(models, upload_path(image), seed)
        out = {"seed": seed, "models": {}}
        for m, e in zip(models, encodings, strict=True):          # e is None for a GAN: no encoder
            out["models"][m.name] = {
                "kind": m.kind, "latent_dim": m.dim, "recon_nats": e and e["recon"], "kl_nats": e and e["kl"],
                "reconstruction": e and png_data_url(e["recon_image"]),
                "samples": png_data_url(cmp.draws(m, seed)), **cmp.measures(m)}
        return out

    # ------------------------------------------------------------ handlers
    @user_errors
    def on_compare(self, image_a, image_b, names, seed, progress=gr.Progress()) -> dict:  # noqa: B008
        models = cmp.pick_models(self.registry, names)
        seed = checks.seed(seed)
        a, b = upload_path(image_a), upload_path(image_b)
        progress(0.0, desc="reconstructing the image with each model")
        encodings = cmp.reconstructions(models, a, seed)
        encoded = [(m, e) for m, e in zip(models, encodings, strict=True) if e is not None]   # a GAN cannot encode
        recon = [(image_file(encoded[0][1]["input_image"]), "the image (as the first model sees it)")]
        recon += [(image_file(e["recon_image"]), f"{m.name}: recon {e['recon']:.1f} · {kl_text(e['kl'])} nats")
                  for m, e in encoded]
        progress(0.3, desc="drawing each model's samples")
        samples = [(image_file(cmp.draws(m, seed)), self.sample_caption(m)) for m in models]
        progress(0.55, desc="walking between the two images")
        walks = None if b is None else image_file(grid([self.walk_strip(m, a, b, seed) for m in models], cols=1))
        zoom = strip([centre_crop(e["recon_image"] if i else e["input_image"])   # the ones shown above
                      for i, e in enumerate([encoded[0][1]] + [e for _, e in encoded])], gap=6)
        progress(0.85, desc="the clouds and the training snapshots")
        out = self.outputs
        return {out["recon"]: recon, out["samples"]: samples, out["walks"]: walks, out["clouds"]: self.clouds(models),
                out["organise"]: self.organise(models), out["numbers"]: self.numbers(models, encodings),
                out["zoom"]: image_file(zoom), out["note"]: text.compare_note([m.kind for m in models])}

    @staticmethod
    def walk_strip(m, a, b, seed: int):
        """The model's walk between the two images (a GAN, which cannot encode them, between its own first two
        draws for the seed: ex.interpolate_images)."""
        frames = ex.interpolate_images(m, a, b, INTERPOLATION_STEPS, "linear", seed)["frames"]
        return strip([f.resize((84, 84), Image.NEAREST) for f in frames], gap=2, bg=0)

    def sample_caption(self, m) -> str:
        d = cmp.measures(m)
        what = kind_of(m).samples_caption(m.vae)
        return (f"{m.name}: {what}; median shape distance to the nearest test image "
                f"{d['sample_shape_distance']:.2f} (test images: {d['data_shape_distance']:.2f})")

    def clouds(self, models) -> PlotData | go.Figure:
        """The 2-D models' clouds side by side, as the figure's JSON (each model's traces built once per load),
        or a message."""
        flat = [(m.name, cmp.clouds(m), cmp.once(m, "cloud_traces", lambda m=m: cloud_traces(cmp.clouds(m))))
                for m in models if m.dim == 2]
        if not flat:
            return empty_figure("Clouds are drawn for 2-D models: pick one.")
        return PlotData(type="plotly", plot=clouds_figure(flat))

    def organise(self, models) -> dict:
        """The training snapshots as compact arrays that assets/animate.js turns into an animated figure (gr.Plot
        would drop the frames), or a message."""
        recorded = [(m.name, s) for m in models if m.dim == 2 and (s := cmp.organising(m)) is not None]
        if not recorded:
            return {"message": "No training snapshots for these models: pick the lab's 2-D models."}
        return organise_figure(recorded)

    def numbers(self, models, encodings) -> list[list]:
        """One row per model: this image's ELBO terms, then the blur and sample-distance measures."""
        rows = []
        for m, e in zip(models, encodings, strict=True):
            d = cmp.measures(m)
            recon, kl = ("no encoder",) * 2 if e is None else (e["recon"], "none" if e["kl"] is None else e["kl"])
            rows.append([m.name, kind_of(m).label, recon, kl,
                         "no encoder" if d["sharp_recon"] is None else d["sharp_recon"], d["sharp_samples"],
                         f"{d['sample_shape_distance']:.2f} (test images {d['data_shape_distance']:.2f})",
                         f"{d['sample_distance']:.2f} (test images {d['data_distance']:.2f})"])
        return rows

    @user_errors
    def test_pair(self, names) -> list[str]:
        """Two test images of the first model picked (or the default model)."""
        first = names[0] if names and isinstance(names, list) and names[0] in self.registry else None
        return test_pair_files(self.registry.get(first or self.registry.default()))

    # ------------------------------------------------------------ layout and events
    def build(self) -> None:
        gr.Markdown(text.TEACH["compare"], elem_classes="teach")
        with gr.Row(equal_height=False):
            self.models = gr.CheckboxGroup(text.picker_choices(self.registry), value=default_models(self.registry),
                                           label=f"models ({cmp.MIN_MODELS} to {cmp.MAX_MODELS})", scale=3,
                                           elem_id="compare-models")
            with gr.Column(scale=1, min_width=160):
                self.seed = compare_seed()
                button = gr.Button("Compare", variant="primary", elem_id="compare-button")
                pair_btn = gr.Button("Try two test images", size="sm", elem_id="compare-pair")
        with gr.Row(equal_height=False):
            self.image_a = compared_image(elem_id="compare-a")
            self.image_b = gr.Image(label="second image (the walk's end)", type="filepath", height=160,
                                    sources=["upload", "clipboard"])
        gr.Examples([p for p in example_pairs() if "drawn-" in p[0]], inputs=[self.image_a, self.image_b],
                    label="example pairs")
        note = gr.Markdown(elem_id="compare-note")
        numbers = gr.Dataframe(
            headers=["model", "kind", "recon (nats)", "KL (nats)", "sharpness: reconstructions",
                     "sharpness: samples", "samples → data: shape", "samples → data: pixels"],
            label="the numbers, side by side (sharpness: mean gradient magnitude ÷ the test images'; samples → "
                  "data: median distance to the nearest test image, of the shapes (each image scaled to unit "
                  "length) and of the raw pixels, which a faint image can game)", interactive=False,
            elem_id="compare-numbers")
        recon = gr.Gallery(label="the image, then each model's reconstruction", columns=5, height=240,
                           object_fit="contain", allow_preview=False, format="png", elem_id="compare-recon")
        zoom = gr.Image(label="zoomed: the centre of the image, then of each reconstruction (the blur)",
                        type="filepath",
                        interactive=False, height=150, elem_id="compare-zoom")
        samples = gr.Gallery(label="samples: the same seed, decoded by each model (in the order picked)", columns=4,
                             height=300, object_fit="contain", allow_preview=False, format="png",
                             elem_id="compare-samples")
        walks = gr.Image(label="the same two images interpolated (linear): one row per model, in the order picked",
                         type="filepath", interactive=False, height=90 * cmp.MAX_MODELS, elem_id="compare-walks")
        clouds = gr.Plot(label="posterior clouds (2-D models)", elem_id="compare-clouds")
        organise = gr.HTML({"message": "Press Compare: the 2-D lab models' maps during training appear here."},
                           html_template=ANIMATION_TEMPLATE, js_on_load=(ASSETS / "animate.js").read_text(),
                           head=HEAD + PLOTLY_HEAD, elem_id="compare-organise",
                           apply_default_css=False)
        sweep = self.registry.lab_sweep()
        if sweep:
            others = [(e.name, e.metrics["test_kl"], e.metrics["test_recon"]) for e in self.registry.entries()
                      if kind_of(e).has_sigma and e.dim == 16 and e.config.channels == 1 and "recipe" not in e.metrics
                      and e.metrics.get("test_kl") is not None]      # entries: no model is loaded for this
            gr.Plot(rate_distortion_figure(sweep, others),
                    label="rate–distortion (the β sweep)", elem_id="compare-rd")
            gr.Markdown(text.rate_distortion_note(sweep), elem_classes="teach")
        quality = self.registry.sample_quality()
        if quality:
            gr.Markdown(text.quality_markdown(quality), elem_classes="teach", elem_id="compare-quality")
            gr.Plot(quality_figure(quality), label="precision against recall of each model's samples",
                    elem_id="compare-pr")
        self.inputs = [self.image_a, self.image_b, self.models, self.seed]
        self.outputs = dict(recon=recon, samples=samples, walks=walks, clouds=clouds, organise=organise,
                            numbers=numbers, zoom=zoom, note=note)
        button.click(self.on_compare, self.inputs, list(self.outputs.values()), api_visibility="private",
                     preprocess=False)
        pair_btn.click(self.test_pair, self.models, [self.image_a, self.image_b], api_visibility="private")
