"""Everything the app does, without the UI: model registry, decoding, encoding uploads,
sampling, interpolation, map data and charts. app.py only wires these to Gradio components.

Every public function checks its arguments and raises ExplorerError with a message that is
safe to show to a user; nothing here imports gradio.
"""
from __future__ import annotations

import atexit
import base64
import io
import json
import math
import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data import ImageError, preprocess_image
from .io import WeightsError, load_atlas, load_metrics, load_vae
from .latent import (SLIDER_LIMIT, LatentError, MapIndex, check_latent, interpolate, sample_prior,
                     traverse, typical_radius)
from .losses import kl_divergence, kl_per_dim, reconstruction_nll
from .vae import ConvVAE

DISPLAY_SIZE = 280                 # pixels on screen for one decoded image
MAX_SAMPLES = 64
MAX_STEPS = 64
MAX_TEMPERATURE = 3.0
MAX_SEED = 2**31 - 1
ACTIVE_KL = 0.01                   # nats: below this a dimension is "collapsed" (inactive)


class ExplorerError(ValueError):
    """A request the explorer refuses; the message is meant for the user."""


# ---------------------------------------------------------------- models
ATLAS_KEYS = ("mu", "xy", "labels", "class_names", "map_method", "kl_per_dim", "thumb_index", "thumbnails")


@dataclass
class LoadedModel:
    name: str
    path: Path
    vae: ConvVAE
    atlas: dict
    metrics: dict
    map_index: MapIndex = field(init=False)

    def __post_init__(self) -> None:
        where, fix = self.path / "atlas.npz", f"rebuild it: `python -m model.evaluate {self.path} --atlas`"
        missing = [k for k in ATLAS_KEYS if k not in self.atlas]
        if missing:
            raise ValueError(f"{where}: lacks {', '.join(missing)}; {fix}")
        mu, xy = self.atlas["mu"], self.atlas["xy"]
        if mu.ndim != 2 or mu.shape[1] != self.dim or len(mu) == 0 or xy.shape != (len(mu), 2):
            raise ValueError(f"{where}: holds means of shape {mu.shape} and map {xy.shape}, not (N, {self.dim}) "
                             f"and (N, 2) for this model; {fix}")
        self.map_index = MapIndex(self.atlas["mu"], self.atlas["xy"], str(self.atlas["map_method"]))

    @property
    def config(self):
        return self.vae.config

    @property
    def dim(self) -> int:
        return self.vae.config.latent_dim

    @property
    def kl_per_dim(self) -> np.ndarray:
        return np.asarray(self.atlas["kl_per_dim"], dtype=np.float64)

    @property
    def active(self) -> np.ndarray:
        return self.kl_per_dim > ACTIVE_KL

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in self.atlas["class_names"]]

    def describe(self) -> str:
        c, m = self.config, self.metrics
        elbo = f"test -ELBO {m['test_neg_elbo']:.1f} nats" if "test_neg_elbo" in m else "no metrics"
        return (f"{self.name}: {c.image_size}x{c.image_size} {'grey' if c.channels == 1 else 'colour'}, "
                f"latent {c.latent_dim} ({int(self.active.sum())} active), {elbo}")


class ModelRegistry:
    """The model folders under a weights root, loaded once at start (a few MB each, fast).

    A folder that fails to load is left out with a warning; names are the only handle a request
    can use, so no request can make the app read another path.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.models: dict[str, LoadedModel] = {}
        self.warnings: list[str] = []
        if not self.root.is_dir():
            raise WeightsError(f"{self.root}: weights folder not found; pass --weights DIR (a folder of model "
                               f"folders, like the repository's weights/)")
        errors = []
        for d in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                vae = load_vae(d)
                atlas = load_atlas(d)
                self.models[d.name] = LoadedModel(d.name, d, vae, atlas, load_metrics(d))
            except (RuntimeError, KeyError, ValueError, IndexError, TypeError, OSError) as e:  # WeightsError too
                errors.append(" ".join(str(e).split()))
                self.warnings.append(f"skipping model {d.name!r}: {errors[-1]}")
        if not self.models:
            train = f"`python -m model.train --out {self.root / 'NAME'}`"
            if errors:
                raise WeightsError(f"no usable model under {self.root}: {'; '.join(errors)}. Fix or remove the "
                                   f"folder, retrain it with {train}, or pass --weights DIR")
            raise WeightsError(f"no model folders (config.json + model.safetensors) under {self.root}: "
                               f"pass --weights DIR pointing at the shipped weights, or train one with {train}")

    def names(self) -> list[str]:
        return list(self.models)

    def default(self, preferred: str = "fashion-mnist") -> str:
        return preferred if preferred in self.models else self.names()[0]

    def get(self, name) -> LoadedModel:
        if not isinstance(name, str) or name not in self.models:
            raise ExplorerError(f"unknown model {str(name)[:80]!r}; choose one of: {', '.join(self.models)}")
        return self.models[name]


# ---------------------------------------------------------------- images
def to_image(x: torch.Tensor, size: int = DISPLAY_SIZE) -> Image.Image:
    """(C, H, W) in [0, 1] -> PIL image, upscaled by an integer factor with nearest-neighbour
    so every model pixel stays a crisp square."""
    arr = (x.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy())
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    scale = max(1, round(size / arr.shape[0]))
    return img.resize((arr.shape[1] * scale, arr.shape[0] * scale), Image.NEAREST)


def strip(images: list[Image.Image], gap: int = 4, bg: int = 255) -> Image.Image:
    """Images side by side on one row."""
    w = sum(im.width for im in images) + gap * (len(images) - 1)
    h = max(im.height for im in images)
    out = Image.new("RGB", (w, h), (bg, bg, bg))
    x = 0
    for im in images:
        out.paste(im.convert("RGB"), (x, 0))
        x += im.width + gap
    return out


def grid(images: list[Image.Image], cols: int) -> Image.Image:
    """Images tiled with no gaps (for the manifold figure)."""
    w, h = images[0].size
    rows = math.ceil(len(images) / cols)
    out = Image.new("RGB", (cols * w, rows * h))
    for i, im in enumerate(images):
        out.paste(im.convert("RGB"), ((i % cols) * w, (i // cols) * h))
    return out


def png_data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def write_gif(frames: list[Image.Image], path, duration: int) -> None:
    """A looping animated GIF. Colour frames get a fast octree palette each (Pillow's default
    median cut costs ~6x more and gives a larger file); grey frames skip Pillow's palette
    optimisation, which costs ~4x the encoding itself and saves ~3% of the file
    (bench/latency.py, /interpolate)."""
    if frames[0].mode == "RGB":
        frames, optimize = [f.quantize(256, method=Image.Quantize.FASTOCTREE) for f in frames], True
    else:
        optimize = False
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0,
                   optimize=optimize)


class TempFiles:
    """GIFs written for download live in one private temp folder, pruned to the newest few,
    and removed when the process ends; Gradio copies what it serves into its own cache."""

    def __init__(self, keep: int = 32) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="vae-explorer-"))
        self.keep = keep
        self.lock = threading.Lock()

    def new_path(self, suffix: str) -> Path:
        with self.lock:
            self.dir.mkdir(parents=True, exist_ok=True)          # again, if cleanup() ran
            files = sorted(self.dir.glob("*"), key=lambda p: p.stat().st_mtime)
            for old in files[: max(0, len(files) - self.keep + 1)]:
                old.unlink(missing_ok=True)
        return self.dir / f"{uuid.uuid4().hex}{suffix}"

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


TEMP = TempFiles()
atexit.register(TEMP.cleanup)        # the docstring's promise: nothing left behind at exit


# ---------------------------------------------------------------- argument checks
def _int_in(value, lo: int, hi: int, name: str) -> int:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ExplorerError(f"{name} must be a whole number from {lo} to {hi}") from None
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise ExplorerError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
    return int(f)


def _float_in(value, lo: float, hi: float, name: str) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ExplorerError(f"{name} must be a number from {lo} to {hi}") from None
    if not math.isfinite(f) or not lo <= f <= hi:
        raise ExplorerError(f"{name} must be a number from {lo} to {hi}, got {value!r}")
    return f


def latent_vector(m: LoadedModel, z) -> np.ndarray:
    try:
        return check_latent(z, m.dim)
    except LatentError as e:
        raise ExplorerError(str(e)) from None


# ---------------------------------------------------------------- the VAE, one call each
@torch.inference_mode()
def decode(m: LoadedModel, z) -> Image.Image:
    """A latent vector (list of D floats) -> the decoded image."""
    zt = torch.from_numpy(latent_vector(m, z)).unsqueeze(0)
    return to_image(m.vae.decode(zt)[0])


def load_upload(m: LoadedModel, source) -> torch.Tensor:
    """Any upload -> (1, C, H, W) in [0, 1] as this model expects it."""
    if source is None:
        raise ExplorerError("no image given: upload one or pick an example")
    try:
        arr = preprocess_image(source, m.config.image_size, m.config.channels, m.config.background)
    except ImageError as e:
        raise ExplorerError(str(e)) from None
    return torch.from_numpy(arr).float().div(255).unsqueeze(0)


@torch.inference_mode()
def encode(m: LoadedModel, source, seed: int = 0) -> dict:
    """Encode an upload: its posterior q(z|x) = N(mu, sigma^2), one sample z = mu + sigma * eps,
    the reconstruction from z, and the ELBO terms for this image (nats)."""
    x = load_upload(m, source)                                   # (1, C, H, W)
    mu, logvar = m.vae.encode(x)
    gen = torch.Generator().manual_seed(_int_in(seed, 0, MAX_SEED, "seed"))
    eps = torch.randn(mu.shape, generator=gen)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = m.vae.decode_logits(z)
    recon = reconstruction_nll(logits, x, m.config.recon, m.config.mse_sigma).item()
    kl = kl_divergence(mu, logvar).item()
    mu_np = mu[0].numpy().astype(float)
    return {
        "input_image": to_image(x[0]),
        "recon_image": to_image(torch.sigmoid(logits)[0]),
        "mu": mu_np.round(4).tolist(),
        "logvar": logvar[0].numpy().astype(float).round(4).tolist(),
        "sigma": torch.exp(0.5 * logvar)[0].numpy().astype(float).round(4).tolist(),
        "eps": eps[0].numpy().astype(float).round(4).tolist(),
        "z": z[0].numpy().astype(float).round(4).tolist(),
        "recon": round(recon, 3),
        "kl": round(kl, 3),
        "kl_per_dim": kl_per_dim(mu, logvar)[0].numpy().astype(float).round(4).tolist(),
        "elbo": round(-(recon + kl), 3),
        "map_xy": m.map_index.place(mu_np[None])[0].astype(float).round(4).tolist(),
    }


@torch.inference_mode()
def reparameterize(m: LoadedModel, mu, logvar, seed: int) -> dict:
    """A fresh eps for the same (mu, sigma): z moves, the distribution does not."""
    mu_t = torch.from_numpy(latent_vector(m, mu)).unsqueeze(0)
    try:
        lv_np = np.asarray(logvar, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise ExplorerError("logvar must be a list of numbers") from None
    if lv_np.size != m.dim:
        raise ExplorerError(f"logvar has {lv_np.size} values; this model expects {m.dim}")
    if np.isnan(lv_np).any():
        raise ExplorerError("logvar contains NaN; every value must be a number")
    lv = torch.from_numpy(np.clip(lv_np, -30, 20)).view(1, -1)
    gen = torch.Generator().manual_seed(_int_in(seed, 0, MAX_SEED, "seed"))
    eps = torch.randn(mu_t.shape, generator=gen)
    z = mu_t + torch.exp(0.5 * lv) * eps
    return {"z": z[0].numpy().astype(float).round(4).tolist(), "eps": eps[0].numpy().astype(float).round(4).tolist(),
            "image": to_image(m.vae.decode(z)[0])}


@torch.inference_mode()
def sample(m: LoadedModel, n, temperature, seed) -> tuple[list[Image.Image], np.ndarray]:
    """n draws z ~ N(0, T^2 I), decoded in one batch."""
    n = _int_in(n, 1, MAX_SAMPLES, "n")
    t = _float_in(temperature, 0.0, MAX_TEMPERATURE, "temperature")
    z = sample_prior(n, m.dim, t, _int_in(seed, 0, MAX_SEED, "seed"))
    x = m.vae.decode(z)
    return [to_image(xi) for xi in x], z.numpy()


@torch.inference_mode()
def interpolate_images(m: LoadedModel, source_a, source_b, steps, method: str) -> dict:
    """Encode two images (their means), walk between them, decode every frame in one batch."""
    steps = _int_in(steps, 2, MAX_STEPS, "steps")
    if method not in ("linear", "spherical"):
        raise ExplorerError(f"method must be 'linear' or 'spherical', got {str(method)[:40]!r}")
    xa, xb = load_upload(m, source_a), load_upload(m, source_b)
    mu, _ = m.vae.encode(torch.cat([xa, xb]))
    path = interpolate(mu[0], mu[1], steps, method)                   # (steps, D)
    other = interpolate(mu[0], mu[1], steps, "spherical" if method == "linear" else "linear")
    frames = [to_image(x) for x in m.vae.decode(path)]
    gif = TEMP.new_path(".gif")
    write_gif(frames + frames[-2:0:-1], gif, duration=max(40, 1600 // steps))   # there and back again
    return {"frames": frames, "gif": str(gif), "z": path.numpy(),
            "norms": {method: path.norm(dim=1).tolist(),
                      ("spherical" if method == "linear" else "linear"): other.norm(dim=1).tolist()},
            "radius": typical_radius(m.dim)}


@torch.inference_mode()
def pick(m: LoadedModel, index) -> tuple[list[float], Image.Image]:
    """An atlas point (a test image) -> its posterior mean and the decoded mean."""
    n = len(m.atlas["mu"])
    i = _int_in(index, 0, n - 1, "index")
    mu = np.asarray(m.atlas["mu"][i], dtype=np.float32)
    return mu.astype(float).round(4).tolist(), to_image(m.vae.decode(torch.from_numpy(mu)[None])[0])


@torch.inference_mode()
def traversal(m: LoadedModel, z, dim, n: int = 9) -> Image.Image:
    """Decode z with one dimension swept from -3 to +3: what that dimension controls."""
    zt = torch.from_numpy(latent_vector(m, z))
    d = _int_in(dim, 0, m.dim - 1, "dimension")
    x = m.vae.decode(traverse(zt, d, torch.linspace(-3, 3, n)))
    return strip([to_image(xi, 112) for xi in x], gap=2)


@torch.inference_mode()
def manifold(m: LoadedModel, n: int = 15) -> Image.Image:
    """Figure 4 of Kingma & Welling: for a 2-D latent, decode a grid of z placed at the
    Gaussian's quantiles, so equal areas of the picture hold equal prior mass."""
    if m.dim != 2:
        raise ExplorerError("the manifold grid needs a model with a 2-D latent space")
    q = torch.linspace(0.5 / n, 1 - 0.5 / n, n)
    vals = torch.distributions.Normal(0, 1).icdf(q)
    zz = torch.stack([torch.stack([vals[j], vals[n - 1 - i]]) for i in range(n) for j in range(n)])
    x = m.vae.decode(zz)
    return grid([to_image(xi, m.config.image_size * 2) for xi in x], cols=n)


# ---------------------------------------------------------------- map and charts (plain data)
def map_points(m: LoadedModel) -> dict:
    """The static part of the map: every test mean's 2-D position and class (sent once)."""
    xy = m.atlas["xy"]
    return {"model": m.name, "x": np.round(xy[:, 0], 3).tolist(), "y": np.round(xy[:, 1], 3).tolist(),
            "label": m.atlas["labels"].astype(int).tolist(), "classes": m.class_names,
            "method": str(m.atlas["map_method"])}


@torch.inference_mode()
def hover_card(m: LoadedModel, index) -> dict:
    """For the map's hover: the test image (if a thumbnail was stored) and its decoded mean."""
    i = _int_in(index, 0, len(m.atlas["mu"]) - 1, "index")
    thumbs = m.atlas["thumb_index"]
    pos = int(np.searchsorted(thumbs, i))
    original = None
    if pos < len(thumbs) and thumbs[pos] == i:
        original = png_data_url(to_image(torch.from_numpy(m.atlas["thumbnails"][pos]).float() / 255, 84))
    decoded = m.vae.decode(torch.from_numpy(np.asarray(m.atlas["mu"][i], dtype=np.float32))[None])[0]
    label = int(m.atlas["labels"][i])
    return {"index": i, "label": m.class_names[label] if label < len(m.class_names) else str(label),
            "original": original, "decoded": png_data_url(to_image(decoded, 84))}


def place(m: LoadedModel, z) -> list[float]:
    """Where a latent vector lands on the map."""
    return m.map_index.place(latent_vector(m, z)[None])[0].astype(float).round(4).tolist()


def slider_labels(m: LoadedModel) -> list[str]:
    """'z3 · KL 1.20' per dimension; a collapsed one reads 'z1 · inactive' (KL ~ 0), short enough
    to stay on one line beside the slider's number box."""
    return [f"z{i} · inactive" if kl <= ACTIVE_KL else f"z{i} · KL {kl:.2f}" for i, kl in enumerate(m.kl_per_dim)]


def random_latent(m: LoadedModel, seed: int) -> list[float]:
    z = sample_prior(1, m.dim, 1.0, _int_in(seed, 0, MAX_SEED, "seed"))[0].clamp(-SLIDER_LIMIT, SLIDER_LIMIT)
    return z.numpy().astype(float).round(3).tolist()


def stats_markdown(info: dict) -> str:
    """The ELBO of one image as a small table: the two terms and their tug-of-war."""
    return (f"| term | nats |\n|---|---:|\n"
            f"| reconstruction  −log p(x\\|z) | {info['recon']:.2f} |\n"
            f"| KL(q(z\\|x) ‖ N(0, I)) | {info['kl']:.2f} |\n"
            f"| **ELBO** = −recon − KL | **{info['elbo']:.2f}** |")


def to_json(obj) -> str:
    return json.dumps(obj)
