"""The page's words: the teaching prose beside each panel and the Markdown built from model numbers.
Nothing here computes anything; the numbers come from model/."""
from __future__ import annotations

from model.analysis.typicality import IWAE_K
from model.nets.kinds import kind_of
from model.serving.registry import LoadedModel
from model.serving.side_by_side import MAX_MODELS, MIN_MODELS

TITLE = ("<div id='title'><h1>VAE Latent Explorer</h1><p>Drag the sliders, click the map, upload an "
         "image: see what a Variational Autoencoder has learned (Kingma &amp; Welling, "
         "<i>Auto-Encoding Variational Bayes</i>, 2013).</p>"
         "<a id='api-link' href='http-api' title='every endpoint, with examples (its page: Use via API)'>HTTP API</a>"
         "</div>")

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
              "mean is an average of many possible images. GANs avoid that average, at other costs. Pick "
              "`fashion-mnist-vq` to sample a VQ-VAE the way van den Oord et al. (2017) do: its 7×7 grid of codes "
              "drawn one by one from a PixelCNN prior (T divides its logits), or `fashion-mnist-gan` for a GAN's "
              "generator; Compare measures all of them side by side.",
    "compare": f"**Why a VAE?** The same inputs through {MIN_MODELS}–{MAX_MODELS} models trained with one recipe "
               "(`python -m model lab`), "
               "so only the bottleneck differs. A **plain autoencoder** maps an image to a *point*; a **VAE** maps "
               "it to a *Gaussian cloud*, and its KL term pulls every cloud towards N(0, I): that tug-of-war fills "
               "the space, so z ~ N(0, I) decodes to clothes. A **β-VAE** (β = 4) pulls harder: larger, "
               "overlapping clouds and more blur. The price of the Gaussian decoder's averaging is **blur**; a "
               "**VQ-VAE** (van den Oord et al. 2017) snaps codes to a learned codebook and keeps detail.",
    "train": "**Train one yourself**, live. Pick the data (or bring your own pictures), press **Start**, and "
             "watch the two terms of the ELBO pull against each other: the reconstruction term falls as the "
             "decoder learns; the KL term, the price of every code's distance from N(0, I), rises and settles. "
             "Move **β** while it trains (the chart marks the moment): a larger β pulls every cloud towards the "
             "prior, the map shrinks and dimensions collapse (their KL bar drops to zero); a smaller β lets the "
             "clouds spread apart and the reconstructions sharpen. **Explore this model** opens the run, as it is "
             "now, in every tab. Anyone on this server can watch a run; only the page that started it controls it.",
    "typical": "**Is this image typical?** A VAE gives every image a number, its **−ELBO**: a bound on "
               "−log p(x), the nats the model needs to describe the image. Alone the number means little, so it is "
               "read against the model's own test images: *more unusual than 62% of them* means 62% of the test "
               "images score lower. The **corrected score** subtracts what the image would cost any compressor; "
               "the **map** shows, pixel by pixel, where the image departs from what the model expects.",
    "manifold": "Figure 4 of Kingma & Welling (2013): for a 2-D latent space, decode a grid of z placed at the "
                "Gaussian's quantiles. Items morph smoothly into each other: the space has no holes.",
}

LESSON = (
    "## Likelihood can mislead\n"
    "A large −log p(x) should mean *unusual*. It famously does not: a model trained on Fashion-MNIST gives "
    "handwritten digits a *higher* likelihood than clothes (Nalisnick et al. 2019, *Do Deep Generative Models Know "
    "What They Don't Know?*). Simple images are cheap to describe whatever they show, and −log p(x) mixes *how "
    "simple* with *how familiar*. Serrà et al. (ICLR 2020, *Input complexity and out-of-distribution detection with "
    "likelihood-based generative models*) subtract the image's complexity L(x), its length under a general-purpose "
    "lossless compressor (here WebP's lossless mode, in nats):\n\n"
    "  **S(x) = −log p(x) − L(x)**\n\n"
    "what the model saves, or loses, against a compressor that knows nothing of its data. Both numbers here count "
    "the same thing, the 8-bit pixels: the decoder's mean is read as a discretized logistic per grey level "
    "(Salimans et al. 2017, PixelCNN++), its scale fitted once on the test set. Try the four examples and compare the "
    "two percentiles: where the raw −ELBO calls an image typical and the corrected score does not, the page says why.")

TYPICAL_FIRST = "Upload an image, pick an example or a test image, or try the lesson's examples below."
FOLDER_FIRST = "Upload many images or one zip: each is scored, and the table lists them least typical first."


def share(pct: float) -> str:
    """'62%' of the test images scoring lower, with the ends said in words."""
    if pct >= 100.0:
        return "all"
    if pct <= 0.0:
        return "none"
    return f"{pct:.1f}%" if pct > 99.0 or pct < 1.0 else f"{pct:.0f}%"


def typical_line(r: dict) -> str:
    """One line, plain text (the Encode tab's and the sketch pad's): the verdict and both percentiles."""
    return (f"{r['verdict']}; raw −ELBO: more unusual than {share(r['neg_elbo_percentile'])} of the test images")


def typical_markdown(r: dict) -> str:
    """The Is-this-typical tab's verdict in words, and when the two scores disagree, why."""
    out = f"**{r['verdict']}**"
    return out + (f"\n\n{r['why']}" if r.get("why") else "")


def typical_numbers(r: dict) -> str:
    """Both scores with their percentiles, the complexity, and beside the ELBO the tighter IWAE bound."""
    rows = [f"| −ELBO of the 8-bit image | {r['neg_elbo']:.1f} | more unusual than {share(r['neg_elbo_percentile'])} "
            f"of the test images |",
            f"| corrected score S = −ELBO − L(x) (Serrà et al. 2020) | {r['score']:.1f} | more unusual than "
            f"{share(r['score_percentile'])} of the test images |",
            f"| L(x): its length as a lossless WebP | {r['complexity']:.1f} | |"]
    if r.get("iwae") is not None:
        against = (f"more unusual than {share(r['iwae_percentile'])} of the test images; "
                   if r.get("iwae_percentile") is not None else "")
        rows.append(f"| for the curious: IWAE bound, k = {IWAE_K} (Burda et al. 2015) | {r['iwae']:.1f} | "
                    f"{against}tighter than the ELBO by {r['neg_elbo'] - r['iwae']:.1f} |")
    rows.append(f"| the model's own −ELBO (its training loss, pixels in [0, 1]) | {r['model_neg_elbo']:.1f} | |")
    return "| score | nats | against the test set |\n|---|---:|---|\n" + "\n".join(rows)


def reference_note(m: LoadedModel, ref: dict) -> str:
    """What every percentile on the tab is read against."""
    return (f"Percentiles are read against {m.name}'s {ref['n']:,} test images (their scores, stored with the "
            f"weights by `python -m model evaluate --typicality`); higher means less typical.")


def lesson_table(rows: list[tuple[str, dict]]) -> str:
    """The lesson's examples side by side: where does the raw number go wrong, and the corrected one not?"""
    iw = lambda r: share(r["iwae_percentile"]) if r.get("iwae_percentile") is not None else "–"   # noqa: E731
    lines = [f"| {name} | {share(r['neg_elbo_percentile'])} | {iw(r)} | {share(r['score_percentile'])} | "
             f"{r['words']} |" for name, r in rows]
    return ("| example | −ELBO: more unusual than | IWAE: more unusual than | corrected score: more unusual than "
            "| verdict |\n|---|---:|---:|---:|---|\n" + "\n".join(lines))


MANIFOLD_NEEDS_2D = "Pick the 2-D model (`fashion-mnist-2d`) to see its manifold."
ENCODE_FIRST = ("Upload an image, or pick one: its reconstruction, its posterior N(μ, σ²) per dimension and its "
                "ELBO terms appear here.")


def describe(m: LoadedModel) -> str:
    """One line under the model picker (and the model's own description, if it has one)."""
    c, met, kind = m.config, m.metrics, kind_of(m)
    if met.get("test_neg_elbo") is not None:
        score = f"test -ELBO {met['test_neg_elbo']:.1f} nats"
    elif met.get("test_recon") is not None:
        score = f"test reconstruction {met['test_recon']:.1f} nats (no KL: no ELBO)"
    elif not kind.has_encoder:
        score = "no encoder, so no ELBO"
    else:
        score = "no metrics"
    active = "" if not kind.has_encoder else f" ({int(m.active.sum())} active)"
    line = (f"{m.name}: {c.image_size}x{c.image_size} {'grey' if c.channels == 1 else 'colour'}, "
            f"latent {c.latent_dim}{active}, {score}")
    if kind.picker_note[0]:                  # e.g. what a GAN, with no encoder, cannot do
        line += "  \n" + lead_and_rest(kind.picker_note)
    return f"{line}  \n{m.description}" if m.description else line


def picker_choices(registry) -> list[tuple[str, str]]:
    """(label, name) pairs for a model dropdown: the name and its one-line description (from the entries:
    listing the models loads none of them)."""
    return [(f"{e.name} — {e.description}" if e.description else e.name, e.name) for e in registry.entries()]


def slider_label(m: LoadedModel, d: int) -> str:
    """'z3 · KL 1.20'; an inactive dimension reads 'z1 · inactive', short enough to stay on one line
    beside the slider's number box."""
    if not m.active[d]:
        return f"z{d} · inactive"
    return f"z{d} · KL {m.kl_per_dim[d]:.2f}" if kind_of(m).has_sigma else f"z{d} · var {m.dim_weight[d]:.1f}"


def sliders_note(m: LoadedModel, shown: int) -> str:
    """Said when a model has more dimensions than there are sliders."""
    if shown >= m.dim:
        return ""
    rank = "the largest KL" if kind_of(m).has_sigma else "the most varied codes"
    return (f"Showing {shown} of {m.dim} dimensions: those with {rank}, largest first. The others keep "
            f"their values (0, or what a map click, a sample or an upload set).")


def attributes_note(names: list[str]) -> str:
    """Above the attribute sliders (White 2016), when the model has directions."""
    if not names:
        return ""
    return ("**Attribute sliders** add α·v to z, where v is a direction in latent space found from the test set "
            "(White 2016, *Sampling Generative Networks*); the image changes in your browser. α = 1 is one "
            "attribute step: a whole class-to-class move, or +1 on a face's factor (factors span −1 to +1).")


def stats_markdown(info: dict) -> str:
    """The ELBO of one image as a small table: the two terms and their tug-of-war."""
    if info["kl"] is None:
        return (f"| term | nats |\n|---|---:|\n"
                f"| reconstruction  −log p(x\\|z) | {info['recon']:.2f} |\n"
                f"| KL | none: a plain autoencoder gives a point, not a Gaussian, so there is no KL and no ELBO |")
    return (f"| term | nats |\n|---|---:|\n"
            f"| reconstruction  −log p(x\\|z) | {info['recon']:.2f} |\n"
            f"| KL(q(z\\|x) ‖ N(0, I)) | {info['kl']:.2f} |\n"
            f"| **ELBO** = −recon − KL | **{info['elbo']:.2f}** |")


def eps_markdown(eps: list[float], shown: int = 8) -> str:
    more = " …" if len(eps) > shown else ""
    return f"ε = [{', '.join(f'{e:+.2f}' for e in eps[:shown])}{more}]"


def about_markdown(m: LoadedModel) -> str:
    """The About tab: the architecture and the metrics measured at training time."""
    met, c = m.metrics, m.config
    gan, prior, measures = met.get("gan", {}), met.get("prior", {}), met.get("measures", {})
    rows = [("test −ELBO (nats/image)", met.get("test_neg_elbo")), ("reconstruction", met.get("test_recon")),
            ("KL", met.get("test_kl")),
            (f"IWAE bound, k={met.get('iwae_k')} ({met.get('iwae_images')} images)", met.get("test_iwae_nll")),
            ("active units", f"{int(m.active.sum())} / {m.dim}" if kind_of(m).has_encoder else None),
            ("epochs", met.get("epochs")),
            ("training time (s)", met.get("seconds")), ("images/s", met.get("images_per_second")),
            ("device", met.get("device")),
            ("prior over the codes (PixelCNN): test NLL, nats/image",
             prior and f"{prior['test_nll']} (the uniform prior: {prior['uniform_nll']})"),
            ("GAN training: generator steps, epochs", gan and f"{gan['generator_steps']:,}, {gan['epochs']}"),
            ("GAN training: minutes, images/s", gan and f"{gan['minutes']}, {gan['images_per_second']}"),
            ("samples: sharpness (test images = 1)", measures.get("sharp_samples")),
            ("samples: shape distance to the nearest test image (test images' own)",
             measures and f"{measures['sample_shape_distance']} ({measures['data_shape_distance']})")]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows if v not in (None, "", {}))
    return (f"## {m.name}\n{c.image_size}×{c.image_size}×{c.channels}, latent {c.latent_dim}, "
            f"widths {list(c.widths)}, {c.res_blocks} residual block(s), reconstruction loss `{c.recon}`, "
            f"{kind_of(c).about_line(c)}, map: {m.atlas['map_method']}\n\n| metric | value |\n|---|---|\n{table}")


def factors_markdown(m: LoadedModel, others: list[tuple[str, dict]]) -> str:
    """For a model trained on data with known factors (faces): its MIG, and the other such models' for
    comparison (β = 1 against β = 4). Empty for every other model."""
    if "mig" not in m.metrics:
        return ""
    rows = "\n".join(f"| {name} | {met.get('beta', '')} | {met['mig']:.3f} | {met.get('prior_distance_ratio', '')} |"
                     for name, met in others)
    return ("## What did each dimension learn?\nThe faces are drawn from known factors, so each latent dimension "
            "can be checked against them: the heatmap shows |corr| between each dimension's mean μ and each factor. "
            "The **Mutual Information Gap** (Chen et al. 2018) asks, per factor, how much more the best dimension "
            "knows about it than the second best (over the factor's entropy), averaged: 1 means one dimension per "
            "factor, 0 means spread out. A larger β (Higgins et al. 2017) presses q(z|x) towards the prior and "
            "often separates the factors more, at the cost of blurrier reconstructions. Prior-sample distance "
            "ratio: how far samples lie from real faces, against test faces from each other (1 is as close).\n\n"
            "| model | β | MIG | prior-sample distance ratio |\n|---|---:|---:|---:|\n" + rows)


def lead_and_rest(note: tuple[str, str]) -> str:
    """A kind's note (model/nets/kinds/) as Markdown: its lead in bold, then the rest."""
    return f"**{note[0]}**{note[1]}"


def compare_note(kinds: list[str]) -> str:
    """What to look for, given which kinds are on the page: each kind's lesson, in the kinds' order."""
    present = {kind_of(k) for k in kinds}
    return "\n\n".join(lead_and_rest(k.compare_note) for k in sorted(present, key=lambda k: k.order)
                       if k.compare_note[0])


def rate_distortion_note(sweep: dict) -> str:
    return ("Each point is a 16-D model trained with the same recipe and a different β: larger β buys a "
            "smaller rate (KL, the information z carries about x) at the cost of distortion (reconstruction). "
            "β = 1 minimises their sum, the −ELBO; the grey lines join models with equal −ELBO (Alemi et al. "
            f"2018, *Fixing a Broken ELBO*). Reproduce it: `{sweep.get('command', 'python -m model lab sweep')}`.")


def quality_markdown(table: dict) -> str:
    """Every model's samples measured the way the field compares them: the table behind the precision-recall
    chart (`python bench/quality.py`), with what each number means."""
    rows = []
    for r in table["rows"]:
        if r.get("kind") is None:
            name = {"training-set": "training images (the floor)", "noise": "uniform noise (a check)"}.get(
                r["model"], r["model"])
            t = "-"
        else:
            name = f"`{r['model']}` ({kind_of(r['kind']).label})"
            t = "prior" if kind_of(r["kind"]).learned_prior else f"{r['temperature']:g}"
        rows.append(f"| {name} | {t} | {r['fid']:.1f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                    f"{r['sharpness']:.2f} |")
    return ("## Sample quality, measured\n"
            f"{table['n']:,} samples of each model against the {table.get('reference', 'test set')}. **FID** (Heusel "
            "et al. 2017) is the Fréchet distance between the two sets' features, here the penultimate layer of a "
            "small Fashion-MNIST classifier (`weights/.classifier`), so it is **not comparable to Inception-FID** "
            "figures. **Precision** is the share of samples inside the data's k-NN neighbourhoods (they look "
            "real); **recall** the share of test images inside the samples' (they cover the data), k = "
            f"{table.get('k', 3)} (Kynkäänniemi et al. 2019). Sharpness: mean gradient magnitude over the test "
            "images'.\n\n| samples | T | FID | precision | recall | sharpness |\n|---|---|---|---|---|---|\n"
            + "\n".join(rows))
