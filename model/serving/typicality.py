"""Is this image typical? The requests behind the panel, /typicality and /typicality_batch: the scores of
model.analysis.typicality read against the model's stored test distribution (metrics.json "typicality"),
a verdict in words, and a map of where in the image the model disagrees.

The same pixels give the same numbers whatever sent them (an upload, a test image, the sketch pad, the API):
every path reduces the input to the model's own uint8 pixels first and scores those.
"""
from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..analysis import typicality as ty
from ..data import DataError
from ..data.intake import collect_images
from ..nets.kinds import kind_of
from ..nets.limits import ExplorerError
from ..store.pictures import DISPLAY_SIZE, to_image
from .registry import LoadedModel

MAX_BATCH = 2000                 # images per folder check
FOLDER_THREADS = 2               # a folder check is long work: its batches are scored on two threads at once
HEAT = np.array([[255, 255, 178], [254, 204, 92], [253, 141, 60], [240, 59, 32], [189, 0, 38]], np.float32)


def reference(m: LoadedModel) -> dict:
    """The model's stored test distribution, or a refusal that says how to make it."""
    kind = kind_of(m)
    if not kind.has_likelihood:
        lacks = "no KL term" if kind.has_encoder else "no encoder"
        raise ExplorerError(f"{m.name} is a {kind.label}: it has {lacks}, so no ELBO and no "
                            f"likelihood to judge an image by")
    ref = m.metrics.get("typicality")
    if not ref or "score_quantiles" not in ref:
        raise ExplorerError(f"{m.name} has no stored test-set distribution of its scores: run "
                            f"`python -m model evaluate {m.path} --typicality` once")
    return ref


def cannot_judge(m: LoadedModel) -> str | None:
    """Why this model cannot say how typical an image is (reference()'s refusal, as text), or None when it can:
    the panels show this line in place of a verdict."""
    try:
        reference(m)
    except ExplorerError as e:
        return str(e)
    return None


def pixels_of(x: torch.Tensor) -> np.ndarray:
    """The model's input (N, C, H, W) in [0, 1] as the uint8 pixels the scores are computed on."""
    return (x * 255).round().clamp(0, 255).to(torch.uint8).numpy()


@torch.inference_mode()
def judge_pixels(m: LoadedModel, x8: np.ndarray, iwae: bool = True, heat: bool = True) -> dict:
    """One image's uint8 (C, H, W) pixels -> every number the panel shows (and the anomaly map)."""
    ref = reference(m)
    s = ty.scores(m.vae, x8[None], ref["scale"])
    neg, score, comp = float(s["neg_elbo"][0]), float(s["score"][0]), float(s["complexity"][0])
    neg_pct = ty.percentile(neg, ref["neg_elbo_quantiles"])
    score_pct = ty.percentile(score, ref["score_quantiles"])
    x = torch.from_numpy(x8[None]).float()
    out = {"neg_elbo": round(neg, 2), "neg_elbo_percentile": round(neg_pct, 1), "score": round(score, 2),
           "score_percentile": round(score_pct, 1), "complexity": round(comp, 1),
           "model_neg_elbo": round(float(s["elbo"][0]), 2), "iwae": None, "iwae_percentile": None}
    if iwae and kind_of(m).has_sigma:
        out["iwae"] = round(float(ty.iwae_nll_8bit(m.vae, x, ref["scale"])[0]), 2)
        if "iwae_quantiles" in ref:
            out["iwae_percentile"] = round(ty.percentile(out["iwae"], ref["iwae_quantiles"]), 1)
    out |= ty.verdict(neg_pct, score_pct, comp, out["iwae_percentile"])
    if heat:
        out["map"] = ty.pixel_nll_8bit(m.vae, x, ref["scale"])[0].numpy()
    return out


def public(result: dict) -> dict:
    """What /typicality returns: the numbers and the verdict, no pictures."""
    keys = ("neg_elbo", "neg_elbo_percentile", "iwae", "score", "score_percentile", "verdict")
    return {k: result[k] for k in keys}


def heat_image(m: LoadedModel, x8: np.ndarray, nll: np.ndarray, size: int = DISPLAY_SIZE) -> Image.Image:
    """The image in grey with each pixel's -log p (nats) over it in colour, and a legend bar: where the
    image departs from what the model expects."""
    grey = x8.astype(np.float32).mean(0) / 255.0                       # (H, W)
    top = max(float(np.quantile(nll, 0.999)), 1e-6)
    t = np.clip(nll / top, 0, 1)
    colour = _colormap(t)                                                # (H, W, 3)
    alpha = (0.15 + 0.85 * t)[..., None]
    base = (0.35 + 0.65 * grey)[..., None] * 255.0
    rgb = (alpha * colour + (1 - alpha) * base).clip(0, 255).astype(np.uint8)
    big = Image.fromarray(rgb).resize((size, size), Image.NEAREST)
    return _with_legend(big, top)


def _colormap(t: np.ndarray) -> np.ndarray:
    pos = t * (len(HEAT) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(HEAT) - 2)
    frac = (pos - lo)[..., None]
    return HEAT[lo] * (1 - frac) + HEAT[lo + 1] * frac


def _with_legend(img: Image.Image, top: float) -> Image.Image:
    """A colour bar under the map from 0 to `top` nats per pixel."""
    w, bar = img.width, 14
    out = Image.new("RGB", (w, img.height + bar + 22), "white")
    out.paste(img, (0, 0))
    ramp = _colormap(np.linspace(0, 1, w))[None].repeat(bar, 0).astype(np.uint8)
    out.paste(Image.fromarray(ramp), (0, img.height + 2))
    d = ImageDraw.Draw(out)
    d.text((2, img.height + bar + 5), "0", fill="black")
    label = f"{top:.1f} nats per pixel: -log p(pixel | z = mu)"
    d.text((w - 6 * len(label) - 2, img.height + bar + 5), label, fill="black")
    return out


def judge_files(m: LoadedModel, paths: list, progress=None) -> tuple[list[dict], list[tuple[str, str]]]:
    """A folder check: every picture of the uploads (files and zips) scored, least typical first; bad files
    come back with their reason. progress(fraction) is called as batches finish."""
    ref = reference(m)
    c = m.config
    try:
        got = collect_images([str(p) for p in paths], channels=c.channels, size=c.image_size, minimum=1,
                             background=c.background, invert="auto")
    except DataError as e:
        raise ExplorerError(str(e)) from None
    if len(got.images) > MAX_BATCH:
        raise ExplorerError(f"{len(got.images):,} images; a folder check takes at most {MAX_BATCH:,}")
    rows, batch, done = [], 100, 0
    parts = [got.images[i:i + batch] for i in range(0, len(got.images), batch)]
    with ThreadPoolExecutor(FOLDER_THREADS) as pool:        # torch and WebP release the GIL: both cores work
        scored = pool.map(lambda part: ty.scores(m.vae, part, ref["scale"], own=False, workers=1), parts)
        for start, s in zip(range(0, len(got.images), batch), scored, strict=True):
            for j in range(len(s["score"])):                # the table shows the 8-bit bound only
                neg, score = float(s["neg_elbo"][j]), float(s["score"][j])
                rows.append({"file": got.names[start + j], "neg_elbo": round(neg, 2),
                             "neg_elbo_percentile": round(ty.percentile(neg, ref["neg_elbo_quantiles"]), 1),
                             "score": round(score, 2),
                             "score_percentile": round(ty.percentile(score, ref["score_quantiles"]), 1),
                             "index": start + j})
            done += len(s["score"])
            if progress is not None:
                progress(done / len(got.images))
    rows.sort(key=lambda r: -r["score"])
    for r in rows:
        r["pixels"] = got.images[r.pop("index")]
    return rows, got.skipped


def csv_bytes(rows: list[dict], skipped: list[tuple[str, str]]) -> bytes:
    """The folder check as CSV: one line per scored file, least typical first, then the skipped ones."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["file", "neg_elbo_nats", "neg_elbo_percentile", "score_nats", "score_percentile", "skipped_because"])
    for r in rows:
        w.writerow([r["file"], r["neg_elbo"], r["neg_elbo_percentile"], r["score"], r["score_percentile"], ""])
    for name, why in skipped:
        w.writerow([name, "", "", "", "", why])
    return buf.getvalue().encode()


def thumbnail(x8: np.ndarray, size: int = 56) -> Image.Image:
    return to_image(torch.from_numpy(x8).float() / 255, size)


def histogram_of(quantiles, bins: int = 40) -> dict:
    """A histogram of the test set's scores rebuilt from its stored quantiles (each holds 0.1%)."""
    q = np.asarray(quantiles, dtype=np.float64)
    lo, hi = np.quantile(q, 0.005), np.quantile(q, 0.995)
    counts, edges = np.histogram(np.clip(q, lo, hi), bins=bins, range=(lo, hi))
    return {"edges": edges.round(2).tolist(), "share": (counts / counts.sum()).round(4).tolist()}
