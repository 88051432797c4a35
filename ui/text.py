"""The page's words: the teaching prose beside each panel and the Markdown built from model numbers.
Nothing here computes anything; the numbers come from model/."""
from __future__ import annotations

from model.registry import LoadedModel

TITLE = ("<div id='title'><h1>VAE Latent Explorer</h1><p>Drag the sliders, click the map, upload an "
         "image: see what a Variational Autoencoder has learned (Kingma &amp; Welling, "
         "<i>Auto-Encoding Variational Bayes</i>, 2013).</p></div>")

TEACH = {
    "sliders": "Each slider is one coordinate of **z**. The decoder turns z into an image, live. "
               "The number beside each is that dimension's average **KL** on the test set. A dimension whose "
               "mean barely varies across the test set is *inactive*: it has collapsed onto the prior, and the "
               "decoder ignores it.",
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

MANIFOLD_NEEDS_2D = "Pick the 2-D model (`fashion-mnist-2d`) to see its manifold."
ENCODE_FIRST = "Upload an image to see its ELBO terms."


def describe(m: LoadedModel) -> str:
    """One line under the model picker."""
    c, met = m.config, m.metrics
    elbo = f"test -ELBO {met['test_neg_elbo']:.1f} nats" if "test_neg_elbo" in met else "no metrics"
    return (f"{m.name}: {c.image_size}x{c.image_size} {'grey' if c.channels == 1 else 'colour'}, "
            f"latent {c.latent_dim} ({int(m.active.sum())} active), {elbo}")


def slider_label(m: LoadedModel, d: int) -> str:
    """'z3 · KL 1.20'; an inactive dimension reads 'z1 · inactive', short enough to stay on one line
    beside the slider's number box."""
    return f"z{d} · KL {m.kl_per_dim[d]:.2f}" if m.active[d] else f"z{d} · inactive"


def sliders_note(m: LoadedModel, shown: int) -> str:
    """Said when a model has more dimensions than there are sliders."""
    if shown >= m.dim:
        return ""
    return (f"Showing {shown} of {m.dim} dimensions: those with the largest KL, largest first. The others keep "
            f"their values (0, or what a map click, a sample or an upload set).")


def stats_markdown(info: dict) -> str:
    """The ELBO of one image as a small table: the two terms and their tug-of-war."""
    return (f"| term | nats |\n|---|---:|\n"
            f"| reconstruction  −log p(x\\|z) | {info['recon']:.2f} |\n"
            f"| KL(q(z\\|x) ‖ N(0, I)) | {info['kl']:.2f} |\n"
            f"| **ELBO** = −recon − KL | **{info['elbo']:.2f}** |")


def eps_markdown(eps: list[float], shown: int = 8) -> str:
    more = " …" if len(eps) > shown else ""
    return f"ε = [{', '.join(f'{e:+.2f}' for e in eps[:shown])}{more}]"


def about_markdown(m: LoadedModel) -> str:
    """The About tab: the architecture and the metrics measured at training time."""
    met = m.metrics
    rows = [("test −ELBO (nats/image)", met.get("test_neg_elbo")), ("reconstruction", met.get("test_recon")),
            ("KL", met.get("test_kl")),
            (f"IWAE bound, k={met.get('iwae_k')} ({met.get('iwae_images')} images)", met.get("test_iwae_nll")),
            ("active units", f"{int(m.active.sum())} / {m.dim}"), ("epochs", met.get("epochs")),
            ("training time (s)", met.get("seconds")), ("images/s", met.get("images_per_second")),
            ("device", met.get("device"))]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows if v is not None)
    c = m.config
    return (f"### {m.name}\n{c.image_size}×{c.image_size}×{c.channels}, latent {c.latent_dim}, "
            f"widths {list(c.widths)}, {c.res_blocks} residual block(s), reconstruction loss `{c.recon}`, "
            f"β = {c.beta}, map: {m.atlas['map_method']}\n\n| metric | value |\n|---|---|\n{table}")
