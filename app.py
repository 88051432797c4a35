"""VAE Latent Explorer: a Gradio page over a convolutional VAE (wiring only; logic is in model/).

    python app.py [--host 127.0.0.1] [--port 7860] [--weights weights] [--share] [--auth user:pass]

`import app; app.demo` builds the page for the default weights folder (tests use it).
"""
from __future__ import annotations

import argparse
import ctypes
import functools
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import plotly  # noqa: E402

from model import explorer as ex  # noqa: E402
from model.charts import history_figure, posterior_figure, radius_figure  # noqa: E402
from model.io import WeightsError  # noqa: E402

ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "assets"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
MAX_DIM = 32                     # sliders built; a model shows its first latent_dim of them
MAX_FILE_SIZE = "10mb"
EMOJI_PAIRS = (("grinning-face", "frowning-face"), ("cat-face", "dog-face"), ("sun-with-face", "full-moon-with-face"))
EXAMPLES = sorted(str(p) for p in (ASSETS / "examples").glob("*.png"))
THEME = gr.themes.Soft(primary_hue="blue", font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                       font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"])   # local fonts only
CSS = (ASSETS / "style.css").read_text()
TEACH = {
    "sliders": "Each slider is one coordinate of **z**. The decoder turns z into an image, live. "
               "The number beside each is that dimension's average **KL** on the test set: dimensions "
               "with KL ≈ 0 are *inactive* (collapsed onto the prior); the decoder ignores them.",
    "map": "Every dot is one test image's posterior mean **μ**, placed in 2-D (UMAP for a 16-D model; "
           "for the 2-D model this *is* the latent plane). Similar items cluster because the KL term "
           "packs them near the prior. **Click a dot** to decode it and load it into the sliders; the star "
           "is where the sliders are now, the diamond your last upload.",
    "encode": "The encoder does not output a point: it predicts a **Gaussian q(z|x) = N(μ, σ²)** per "
              "dimension (blue: μ ± 2σ, over the prior's grey band). Training maximises the **ELBO = "
              "E[log p(x|z)] − KL(q(z|x) ‖ N(0, I))**: the reconstruction term wants precise, distinct codes; "
              "the KL term pulls every cloud towards N(0, I). That tug-of-war is what makes the space smooth. "
              "**Resample ε**: z = μ + σ·ε (the *reparameterization trick*) moves z while μ and σ stay; because "
              "the randomness sits in ε, gradients flow through μ and σ (Kingma & Welling 2013, §2.4).",
    "interp": "Walk from one image's μ to another's. **Linear** interpolation cuts through the middle of "
              "the ball, where |z| is smaller than typical for N(0, I) (in D dimensions almost all prior mass "
              "is near |z| ≈ √D); **spherical** interpolation (slerp) stays on that shell, so its frames look "
              "more like real samples.",
    "sample": "A VAE is a generative model: draw **z ~ N(0, T²I)** and decode. T < 1 stays near the "
              "centre (typical, cleaner images); T > 1 wanders off (stranger ones). VAE samples are **blurry**: "
              "the decoder is trained to predict each pixel's mean given z, and for a z it is unsure about the "
              "mean is an average of many possible images. GANs avoid that average, at other costs.",
    "manifold": "Figure 4 of Kingma & Welling (2013): for a 2-D latent space, decode a grid of z placed at the "
                "Gaussian's quantiles. Items morph smoothly into each other: the space has no holes.",
}


def user_errors(fn):
    """Turn the explorer's refusals into a gr.Error the page shows; the server keeps serving."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ex.ExplorerError, WeightsError) as e:
            raise gr.Error(str(e)) from None
    return wrapper


def upload_path(value):
    """An uploaded image as the upload events receive it: they run with preprocess=False, so Gradio
    never opens the file itself (its Image preprocessing would decode any format Pillow knows, convert
    to RGB, dropping alpha and 16-bit depth, and fail on a bad file with a generic error); the value
    is Gradio's file data, already checked to lie in its upload cache. Our loader (allowed formats,
    pixel limit) opens the path."""
    if isinstance(value, dict):
        return value.get("path")
    return value


def build_demo(weights: str | os.PathLike = ROOT / "weights") -> gr.Blocks:
    registry = ex.ModelRegistry(weights)
    for w in registry.warnings:
        print(f"warning: {w}", file=sys.stderr)
    names = registry.names()
    default = registry.get(registry.default())
    gr.set_static_paths([str(PLOTLY_JS), str(ASSETS)])

    # ---------------------------------------------------------------- handlers (thin)
    def model_of(name):
        return registry.get(name)

    def map_value(name, **markers):
        """The map's value: the model and the markers that changed (slider, upload); map.js keeps the
        others, so moving a slider leaves the upload's diamond in place and vice versa (None removes one)."""
        return {"model": name, "markers": markers}

    def slider_updates(m, values):
        labels = ex.slider_labels(m)
        return [gr.update(visible=i < m.dim, value=values[i] if i < m.dim else 0,
                          label=labels[i] if i < m.dim else f"z{i}") for i in range(MAX_DIM)]

    def map_points(model):
        return ex.map_points(model_of(model))

    def hover_card(model, index=None):
        if isinstance(model, (list, tuple)) and len(model) == 2:    # the JS bridge packs the arguments
            model, index = model
        return ex.hover_card(model_of(model), index)

    @user_errors
    def decode(z: list[float], model: str):
        return ex.decode(model_of(model), z)

    @user_errors
    def on_slide(model, *values):
        m = model_of(model)
        z = list(values[:m.dim])
        return ex.decode(m, z), map_value(model, slider=ex.place(m, z))

    @user_errors
    def set_z(model, z):
        m = model_of(model)
        return [*slider_updates(m, z), ex.decode(m, z), map_value(model, slider=ex.place(m, z))]

    @user_errors
    def on_model(model):
        m = model_of(model)
        z = [0.0] * m.dim
        is2d = m.dim == 2
        return [*slider_updates(m, z), ex.decode(m, z), map_value(model, slider=ex.place(m, z), upload=None),
                m.describe(), gr.update(maximum=m.dim - 1, value=0),
                ex.manifold(m) if is2d else None, gr.update(visible=is2d), about_markdown(m),
                history_figure(m.metrics["history"]) if m.metrics.get("history") else None,
                gr.update(value=gallery_of_test_images(m))]

    @user_errors
    def on_random(model, seed):
        m = model_of(model)
        return set_z(model, ex.random_latent(m, int(seed)))

    @user_errors
    def on_traverse(model, dim, *values):
        m = model_of(model)
        return ex.traversal(m, list(values[:m.dim]), dim)

    @user_errors
    def pick(index: int, model: str):
        return ex.pick(model_of(model), index)

    def on_map_select(model, evt: gr.EventData):
        data = getattr(evt, "_data", None) or {}
        index = data.get("index") if isinstance(data, dict) else None
        if index is None:
            raise gr.Error("click a point of the map")
        mu, _ = pick(index, model)
        return set_z(model, mu)

    def encoding(image, model):
        """ex.encode, split into the images and the JSON-able rest (the API's dict, the page's state)."""
        info = ex.encode(model_of(model), upload_path(image))
        return info.pop("recon_image"), info.pop("input_image"), info

    @user_errors
    def encode(image, model: str):
        recon, _, info = encoding(image, model)
        return recon, info

    @user_errors
    def encode_page(image, model):
        """Everything the page shows for an upload, from one encoding."""
        recon, model_input, info = encoding(image, model)
        return (recon, info, model_input, posterior_figure(info["mu"], info["sigma"], info["z"]),
                ex.stats_markdown(info), map_value(model, upload=info["map_xy"]), info)

    @user_errors
    def resample(model, info, seed):
        if not info:
            raise gr.Error("encode an image first")
        m = model_of(model)
        r = ex.reparameterize(m, info["mu"], info["logvar"], int(seed))
        new = dict(info, z=r["z"], eps=r["eps"])
        return (r["image"], posterior_figure(info["mu"], info["sigma"], r["z"]), new,
                f"ε = [{', '.join(f'{e:+.2f}' for e in r['eps'][:8])}{' …' if len(r['eps']) > 8 else ''}]")

    @user_errors
    def send_to_sliders(model, info):
        if not info:
            raise gr.Error("encode an image first")
        return set_z(model, info["mu"])

    @user_errors
    def sample(n: int, temperature: float, seed: int, model: str):
        images, z = ex.sample(model_of(model), n, temperature, seed)
        return images, z.round(4).tolist()

    @user_errors
    def on_sample_select(model, zs, evt: gr.SelectData):
        return set_z(model, zs[evt.index])

    def interpolation(image_a, image_b, steps, method, model):
        return ex.interpolate_images(model_of(model), upload_path(image_a), upload_path(image_b), steps, method)

    @user_errors
    def interpolate(image_a, image_b, steps: int, method: str, model: str):
        r = interpolation(image_a, image_b, steps, method, model)
        return r["frames"], r["gif"]

    @user_errors
    def interpolate_page(image_a, image_b, steps, method, model):
        """The frames, the GIF and the |z| plot, from one interpolation."""
        r = interpolation(image_a, image_b, steps, method, model)
        return r["frames"], r["gif"], radius_figure(r["norms"], r["radius"])

    def about_markdown(m):
        met = m.metrics
        rows = [("test −ELBO (nats/image)", met.get("test_neg_elbo")), ("reconstruction", met.get("test_recon")),
                ("KL", met.get("test_kl")),
                (f"IWAE bound, k={met.get('iwae_k')} ({met.get('iwae_images')} images)", met.get("test_iwae_nll")),
                ("active units", f"{met.get('active_units')} / {m.dim}"), ("epochs", met.get("epochs")),
                ("training time (s)", met.get("seconds")), ("images/s", met.get("images_per_second")),
                ("device", met.get("device"))]
        table = "\n".join(f"| {k} | {v} |" for k, v in rows if v is not None)
        c = m.config
        return (f"### {m.name}\n{c.image_size}×{c.image_size}×{c.channels}, latent {c.latent_dim}, "
                f"widths {list(c.widths)}, {c.res_blocks} residual block(s), reconstruction loss `{c.recon}`, "
                f"β = {c.beta}, map: {m.atlas['map_method']}\n\n| metric | value |\n|---|---|\n{table}")

    def gallery_of_test_images(m, per_class: int = 2):
        labels = m.atlas["labels"][m.atlas["thumb_index"]]
        out = []
        for c, name in enumerate(m.class_names):
            for pos in [int(i) for i in (labels == c).nonzero()[0][:per_class]]:
                out.append((ex.to_image(ex.torch.from_numpy(m.atlas["thumbnails"][pos]).float() / 255, 84), name))
        return out

    def use_test_image(gallery, evt: gr.SelectData):
        item = gallery[evt.index]
        return item[0] if isinstance(item, (list, tuple)) else item["image"]["path"]

    # ---------------------------------------------------------------- layout
    with gr.Blocks(title="VAE Latent Explorer", delete_cache=(600, 3600)) as demo:
        gr.HTML("<div id='title'><h1>VAE Latent Explorer</h1><p>Drag the sliders, click the map, upload an "
                "image: see what a Variational Autoencoder has learned (Kingma &amp; Welling, "
                "<i>Auto-Encoding Variational Bayes</i>, 2013).</p></div>")
        with gr.Row(equal_height=False):
            model_dd = gr.Dropdown(names, value=default.name, label="Model", scale=1, min_width=200)
            model_info = gr.Markdown(default.describe(), elem_id="model-info")
        with gr.Row(equal_height=False, elem_id="main-row"):
            with gr.Column(scale=3, min_width=300):
                decoded = gr.Image(ex.decode(default, [0.0] * default.dim), label="decoded image x = decoder(z)",
                                   type="pil", format="png", height=300, interactive=False, elem_id="decoded",
                                   buttons=["download"])
                with gr.Row():
                    reset_btn = gr.Button("Reset z = 0", size="sm")
                    random_btn = gr.Button("Random z ~ N(0, I)", size="sm", variant="primary")
                    random_seed = gr.Number(0, visible=False, precision=0)
                trav_dim = gr.Slider(0, default.dim - 1, value=0, step=1, label="traverse one dimension: z_d from −3 to +3")
                trav_img = gr.Image(label="traversal", type="pil", format="png", interactive=False, height=90,
                                    elem_id="traversal")
            with gr.Column(scale=3, min_width=260, elem_id="slider-col"):
                gr.Markdown(TEACH["sliders"], elem_classes="teach")
                labels = ex.slider_labels(default)
                sliders = [gr.Slider(-ex.SLIDER_LIMIT, ex.SLIDER_LIMIT, value=0.0, step=0.05,
                                     label=labels[i] if i < default.dim else f"z{i}", visible=i < default.dim,
                                     elem_classes="zslider", buttons=[]) for i in range(MAX_DIM)]
            with gr.Column(scale=5, min_width=360):
                map_html = gr.HTML(
                    map_value(default.name, slider=ex.place(default, [0.0] * default.dim)),
                    html_template="<div class='vae-map'><div class='vae-map-plot'></div><div class='vae-map-card'></div></div>",
                    js_on_load=(ASSETS / "map.js").read_text(), elem_id="latent-map",
                    head=f"<script src='/gradio_api/file={PLOTLY_JS}'></script>",
                    server_functions=[map_points, hover_card], apply_default_css=False)
                gr.Markdown(TEACH["map"], elem_classes="teach")

        with gr.Tabs():
            with gr.Tab("Encode an image", id="encode"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2):
                        upload = gr.Image(label="your image (any size; it is fitted into the model's square)",
                                          type="filepath", sources=["upload", "clipboard"], height=240, elem_id="upload")
                        if EXAMPLES:
                            gr.Examples(EXAMPLES, inputs=upload, label="examples (drawings on white: inverted to match the data)")
                        gr.Markdown("**or a test-set image:**")
                        test_gallery = gr.Gallery(gallery_of_test_images(default), show_label=False,
                                                  columns=5, height=170, allow_preview=False, object_fit="contain",
                                                  interactive=False, elem_id="test-gallery")
                    with gr.Column(scale=2):
                        with gr.Row():
                            enc_input = gr.Image(label="model input (preprocessed)", type="pil", interactive=False, height=200,
                                                 buttons=["download"])
                            enc_recon = gr.Image(label="reconstruction", type="pil", format="png", interactive=False,
                                                 height=200, elem_id="recon", buttons=["download"])
                        enc_stats = gr.Markdown("Upload an image to see its ELBO terms.", elem_id="elbo-stats")
                        with gr.Row():
                            resample_btn = gr.Button("Resample ε (reparameterization)", size="sm")
                            send_btn = gr.Button("Send μ to sliders", size="sm", variant="primary")
                        eps_text = gr.Markdown()
                    with gr.Column(scale=3):
                        enc_plot = gr.Plot(label="posterior per dimension")
                        enc_json = gr.JSON(label="encoding (mu, logvar, recon, kl, elbo, map_xy)", open=False,
                                           max_height=260)
                gr.Markdown(TEACH["encode"], elem_classes="teach")
                enc_state = gr.State({})
                resample_seed = gr.State(1)

            with gr.Tab("Interpolate", id="interpolate"):
                with gr.Row(equal_height=False):
                    img_a = gr.Image(label="image A", type="filepath", height=180, sources=["upload", "clipboard"])
                    img_b = gr.Image(label="image B", type="filepath", height=180, sources=["upload", "clipboard"])
                    with gr.Column():
                        steps = gr.Slider(2, ex.MAX_STEPS, value=10, step=1, label="steps (both ends included)")
                        method = gr.Radio(["linear", "spherical"], value="spherical", label="method")
                        interp_btn = gr.Button("Interpolate", variant="primary")
                        pair_btn = gr.Button("Try two test images", size="sm")
                pairs = [[str(ASSETS / "examples" / "emoji" / f"{a}.png"), str(ASSETS / "examples" / "emoji" / f"{b}.png")]
                         for a, b in EMOJI_PAIRS if (ASSETS / "examples" / "emoji" / f"{a}.png").exists()]
                pairs += [[str(ASSETS / "examples" / f"drawn-{a}.png"), str(ASSETS / "examples" / f"drawn-{b}.png")]
                          for a, b in (("tshirt", "trousers"), ("sneaker", "bag"))]
                gr.Examples(pairs, inputs=[img_a, img_b], label="example pairs (the emoji pairs are for the emoji model)")
                frames = gr.Gallery(label="frames", columns=10, height=150, allow_preview=False, elem_id="frames",
                                    format="png")   # PNG encodes ~7x faster than the default WebP here
                with gr.Row(equal_height=False):
                    gif = gr.Image(label="animated GIF (plays in a loop; download it)", type="filepath", height=200,
                                   interactive=False, elem_id="gif")
                    radius_plot = gr.Plot(label="|z| per frame")
                gr.Markdown(TEACH["interp"], elem_classes="teach")

            with gr.Tab("Sample from the prior", id="sample"):
                with gr.Row():
                    n_samples = gr.Slider(1, ex.MAX_SAMPLES, value=16, step=1, label="n")
                    temperature = gr.Slider(0.0, ex.MAX_TEMPERATURE, value=1.0, step=0.05, label="temperature T")
                    seed = gr.Number(0, label="seed", precision=0, minimum=0, maximum=ex.MAX_SEED)
                    sample_btn = gr.Button("Sample", variant="primary")
                samples = gr.Gallery(label="samples (click one to load it into the sliders)", columns=8, height=330,
                                     allow_preview=False, elem_id="samples", format="png")
                samples_z = gr.State([])
                gr.Markdown(TEACH["sample"], elem_classes="teach")

            with gr.Tab("Manifold (2-D models)", id="manifold"):
                manifold_note = gr.Markdown("Pick the 2-D model (`fashion-mnist-2d`) to see its manifold.",
                                            visible=default.dim != 2)
                manifold_img = gr.Image(ex.manifold(default) if default.dim == 2 else None, label="decoded grid",
                                        type="pil", interactive=False, height=620)
                gr.Markdown(TEACH["manifold"], elem_classes="teach")

            with gr.Tab("About the model", id="about"):
                about = gr.Markdown(about_markdown(default))
                history_plot = gr.Plot(history_figure(default.metrics["history"]) if default.metrics.get("history") else None,
                                       label="training curves")

        # The API endpoints hang on a hidden button: /decode and /pick with hidden inputs and outputs (so
        # gradio_client calls do not touch the page), /encode and /interpolate on the page's own inputs
        with gr.Row(visible=False):
            api_z = gr.JSON(label="z")
            api_index = gr.Number(label="index", precision=0)
            api_image = gr.Image(type="pil", format="png")
            api_mu = gr.JSON(label="mu")
            api_btn = gr.Button("api")

        # ---------------------------------------------------------------- wiring
        slider_outs = [*sliders, decoded, map_html]
        gr.on([s.input for s in sliders], on_slide, [model_dd, *sliders], [decoded, map_html],
              trigger_mode="always_last", show_progress="hidden", api_visibility="private")
        model_dd.change(on_model, model_dd, [*slider_outs, model_info, trav_dim, manifold_img, manifold_note, about,
                                             history_plot, test_gallery], api_visibility="private")
        reset_btn.click(lambda m: set_z(m, [0.0] * model_of(m).dim), model_dd, slider_outs, api_visibility="private")
        random_btn.click(lambda s: s + 1, random_seed, random_seed, api_visibility="private").then(
            on_random, [model_dd, random_seed], slider_outs, api_visibility="private")
        gr.on([trav_dim.release, decoded.change], on_traverse, [model_dd, trav_dim, *sliders], trav_img,
              show_progress="hidden", trigger_mode="always_last", api_visibility="private")
        map_html.select(on_map_select, model_dd, slider_outs, api_visibility="private")

        api_btn.click(decode, [api_z, model_dd], api_image, api_name="decode")
        api_btn.click(pick, [api_index, model_dd], [api_mu, api_image], api_name="pick")

        # uploads reach the handlers as Gradio's file data (preprocess=False, see upload_path). The page
        # runs one private event per action; the API endpoints are the hidden button's, on the same inputs.
        upload.change(encode_page, [upload, model_dd],
                      [enc_recon, enc_json, enc_input, enc_plot, enc_stats, map_html, enc_state],
                      api_visibility="private", preprocess=False)
        api_btn.click(encode, [upload, model_dd], [enc_recon, enc_json], api_name="encode", preprocess=False)
        test_gallery.select(use_test_image, test_gallery, upload, api_visibility="private")
        resample_btn.click(lambda s: s + 1, resample_seed, resample_seed, api_visibility="private").then(
            resample, [model_dd, enc_state, resample_seed], [enc_recon, enc_plot, enc_state, eps_text],
            api_visibility="private")
        send_btn.click(send_to_sliders, [model_dd, enc_state], slider_outs, api_visibility="private")

        interp_btn.click(interpolate_page, [img_a, img_b, steps, method, model_dd], [frames, gif, radius_plot],
                         api_visibility="private", preprocess=False)
        api_btn.click(interpolate, [img_a, img_b, steps, method, model_dd], [frames, gif], api_name="interpolate",
                      preprocess=False)

        def test_pair(model):
            g = gallery_of_test_images(model_of(model), per_class=1)
            paths = []
            for img, _ in (g[0], g[-1]):
                p = ex.TEMP.new_path(".png")
                img.save(p)
                paths.append(str(p))
            return paths
        pair_btn.click(test_pair, model_dd, [img_a, img_b], api_visibility="private")

        sample_btn.click(sample, [n_samples, temperature, seed, model_dd], [samples, samples_z], api_name="sample")
        samples.select(on_sample_select, [model_dd, samples_z], slider_outs, api_visibility="private")
        demo.load(on_traverse, [model_dd, trav_dim, *sliders], trav_img, api_visibility="private")
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo


def limit_malloc_arenas(n: int = 2) -> None:
    """glibc gives each thread that allocates under contention its own malloc arena and keeps their
    memory: Gradio's worker threads then hold ~20 MB more after the first requests than with two
    shared arenas (bench/memory.py). Same as MALLOC_ARENA_MAX=2; a no-op off glibc."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, n)             # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def trim_malloc_every(seconds: float = 10.0) -> None:
    """A daemon thread that hands glibc's freed heap pages back to the OS (malloc_trim) every few
    seconds: requests allocate and free images and tensors of many sizes, and the freed pages
    otherwise stay in the process as RSS (bench/memory.py). A no-op off glibc."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return

    def loop():
        while True:
            time.sleep(seconds)
            trim(0)
    threading.Thread(target=loop, name="malloc-trim", daemon=True).start()


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = None, share: bool = False,
           auth: tuple[str, str] | None = None, **kwargs):
    """Serve with the app's theme, CSS and safe defaults (local only, size-limited uploads)."""
    # Each request is a tiny batch. Alone, one torch thread is as fast as all cores; when the queue runs
    # 4 at once or other processes share the CPU, threads fanning out per request made decode 5-20x
    # slower (measured on 2 cores while training ran; see BENCHMARKS.md).
    ex.torch.set_num_threads(1)
    limit_malloc_arenas()
    trim_malloc_every()
    return demo.launch(server_name=host, server_port=port, share=share, auth=auth, theme=THEME, css=CSS,
                       max_file_size=MAX_FILE_SIZE, ssr_mode=False, footer_links=["api"], **kwargs)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="VAE Latent Explorer")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--weights", default=str(ROOT / "weights"), help="folder of model folders")
    p.add_argument("--share", action="store_true", help="create a public Gradio share link")
    p.add_argument("--auth", default=None, help="user:password required to open the page")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    auth = None
    if args.auth:
        if ":" not in args.auth:
            print("error: --auth must look like user:password", file=sys.stderr)
            return 2
        auth = tuple(args.auth.split(":", 1))
    if (args.host not in ("127.0.0.1", "localhost", "::1") or args.share) and not auth:
        print("warning: the app is reachable from other machines and has no password; "
              "add --auth user:password", file=sys.stderr)
    try:
        demo = build_demo(args.weights)
    except WeightsError as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)      # one line, whatever the cause
        return 2
    launch(demo, args.host, args.port, args.share, auth)
    delete_cache_files(demo)
    return 0


def delete_cache_files(demo: gr.Blocks) -> None:
    """After Ctrl-C: remove the files this run put in Gradio's cache. Gradio's own shutdown does the
    same (delete_cache), but it waits for open client streams and the main thread gives it only 5 s,
    so with a client connected it is cut off and the files stay (bench/memory.py)."""
    cache = Path(gr.utils.get_upload_folder()).resolve()
    for files in list(demo.temp_file_sets):
        for f in list(files):
            path = Path(f).resolve()
            if cache in path.parents:                       # only Gradio's copies, never a source file
                path.unlink(missing_ok=True)
                if path.parent != cache:
                    try:
                        path.parent.rmdir()                 # its per-file folder, once empty
                    except OSError:
                        pass


@functools.lru_cache(maxsize=1)
def _default_demo() -> gr.Blocks:
    return build_demo(os.environ.get("VAE_WEIGHTS", ROOT / "weights"))


def __getattr__(name: str):
    if name == "demo":                 # built on first access, so `import app` stays cheap
        return _default_demo()
    raise AttributeError(name)


if __name__ == "__main__":
    sys.exit(main())
