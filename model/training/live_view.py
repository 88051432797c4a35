"""What the Train tab shows of a run while it trains, computed in the worker and written to live.json.

Each update is small: numbers, and pictures of a few kilobytes (PNG data URLs); the page keeps its charts
and only adds to them. It holds:
- history: one row per few steps, {"step", "recon", "kl", "beta"}: the ELBO's two terms pulling against
  each other (Kingma & Welling 2013, eq. 3), and "marks" where β or the learning rate was changed;
- the KL per latent dimension over a fixed held-out set (dimensions wake up, or collapse onto the prior);
- the map of those held-out images' means, with their clouds (σ): the plane itself for a 2-D latent, else
  the means' two principal axes (a projection cheap enough to redo every second), as int16 with a scale;
- reconstructions of 8 fixed images and 16 fixed-seed draws from the prior, as PNG.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image

from ..analysis.separation import knn_accuracy
from ..store.pictures import base64_of, png_data_url
from .loop import Run, to_float

HOLDOUT = 2000                 # held-out images on the map (the separation benchmark's k-NN uses them)
N_RECON, N_PRIOR = 8, 16
MAX_ROWS = 4000                # the history is thinned by half beyond this (a long run keeps its shape)
MAP_LIMIT = 32767              # int16
KNN_EVERY_S = 2.0              # the k-NN number is redone at most this often (2,000 points: tens of ms)


def grid_url(images: np.ndarray, columns: int) -> str:
    """uint8 (N, C, H, W) as one PNG grid (1-px grey gaps), native size: the page scales it up crisply."""
    n, c, h, w = images.shape
    rows = -(-n // columns)
    sheet = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1, c), 128, dtype=np.uint8)
    for i, im in enumerate(images):
        r, k = divmod(i, columns)
        sheet[r * (h + 1):r * (h + 1) + h, k * (w + 1):k * (w + 1) + w] = im.transpose(1, 2, 0)
    return png_data_url(Image.fromarray(sheet if c == 3 else sheet[..., 0]))


def principal_axes(mu: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """(D, 2) top two principal directions of the means, signs kept from the last update so the map
    does not flip from one second to the next."""
    centred = mu - mu.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2].T.copy()
    if previous is not None:
        axes *= np.sign((axes * previous).sum(0) + 1e-12)
    return axes


class LiveView:
    """The run's history and the held-out set's pictures; state() is live.json."""

    def __init__(self, run: Run, job: dict, prior: dict, row_every: int) -> None:
        self.run, self.job = run, job
        gen = torch.Generator().manual_seed(1234)
        test = run.test_x.cpu()
        pick = torch.randperm(len(test), generator=gen)[:HOLDOUT]
        self.holdout = test[pick]                                      # uint8 (N, C, H, W)
        self.labels = np.asarray(run.test_ds.labels)[pick.numpy()].astype(np.uint8)
        self.eps = torch.randn(N_PRIOR, run.core.config.latent_dim, generator=gen)
        self.rows: list[dict] = list(prior.get("history", []))
        self.marks: list[dict] = list(prior.get("marks", []))
        self.model_version = int(prior.get("model_version", 0))
        self.axes = None
        self.knn, self.t_knn = prior.get("knn"), 0.0
        self.has_classes = len(np.unique(self.labels)) > 1
        self.t_rate, self.step_rate, self.ips = time.monotonic(), run.step, 0.0
        self.originals = grid_url(self.holdout[:N_RECON].numpy(), N_RECON)

    def add_row(self, step: int, recon: float, kl: float) -> None:
        self.rows.append({"step": step, "recon": round(recon, 3), "kl": round(kl, 3),
                          "beta": self.run.cfg.beta})
        if len(self.rows) > MAX_ROWS:
            self.rows = self.rows[::2]

    def mark(self, step: int, beta0: float, beta1: float, lr0: float, lr1: float) -> None:
        what = []
        if beta1 != beta0:
            what.append(f"β {beta0:g} → {beta1:g}")
        if lr1 != lr0:
            what.append(f"lr {lr0:g} → {lr1:g}")
        self.marks.append({"step": step, "text": ", ".join(what)})

    def published(self) -> None:
        """A weights folder was just written into the run folder: the server registers it as a model."""
        self.model_version += 1

    @torch.inference_mode()
    def pictures(self) -> dict:
        """The map, the KL per dimension, the reconstructions and the prior draws, from the model now."""
        core = self.run.core
        was = core.training
        core.eval()
        dev = self.run.device
        q = core.posterior(to_float(self.holdout.to(dev)))
        mu = q.mu.float().cpu().numpy()
        sigma = q.std.float().cpu().numpy() if hasattr(q, "std") else np.zeros_like(mu)
        recon = core.decode(q.mu[:N_RECON]).cpu()
        prior = core.decode(self.eps.to(dev)).cpu()
        kl = q.kl_per_dim().mean(0).cpu().numpy() if hasattr(q, "kl_per_dim") else np.zeros(mu.shape[1])
        core.train(was)
        return {"kl_per_dim": [round(float(v), 3) for v in kl], "map": self.map_of(mu, sigma),
                "knn": self.separation(mu),
                "recon": grid_url((recon * 255).round().byte().numpy(), N_RECON),
                "prior": grid_url((prior * 255).round().byte().numpy(), N_PRIOR // 2)}

    def separation(self, mu: np.ndarray) -> float | None:
        """The k-NN (k = 10) class accuracy of the held-out means (None without classes), redone at most every
        KNN_EVERY_S: how well the map separates the classes, the same measure as the benchmarks."""
        now = time.monotonic()
        if self.has_classes and np.isfinite(mu).all() and now - self.t_knn >= KNN_EVERY_S:
            self.knn, self.t_knn = round(knn_accuracy(mu, self.labels), 3), now
        return self.knn

    def map_of(self, mu: np.ndarray, sigma: np.ndarray) -> dict:
        if mu.shape[1] == 2:
            xy, s, method = mu, sigma, "the latent plane (z₁, z₂)"
        else:
            self.axes = principal_axes(mu, self.axes)
            xy = (mu - mu.mean(0)) @ self.axes
            s = np.sqrt((sigma ** 2) @ (self.axes ** 2))                 # each cloud's spread along the axes
            method = "the means' two principal axes (PCA, redone every update)"
        reach = float(max(np.abs(xy).max(), 1e-3) * 1.05)
        scale = reach / MAP_LIMIT
        q = lambda a: np.clip(np.round(a / scale), -MAP_LIMIT, MAP_LIMIT).astype("<i2")   # noqa: E731
        return {"method": method, "scale": scale, "n": len(xy), "xy": base64_of(q(xy)), "sigma": base64_of(q(s)),
                "labels": base64_of(self.labels), "classes": list(self.run.test_ds.class_names)}

    def rate(self) -> float:
        """Images per second over the time since the last update."""
        now, step = time.monotonic(), self.run.step
        if now - self.t_rate > 0.3 and step > self.step_rate:
            self.ips = (step - self.step_rate) * self.run.cfg.batch_size / (now - self.t_rate)
            self.t_rate, self.step_rate = now, step
        return self.ips

    def state(self, state: str, message: str, seconds_left: float, own_seconds: float = 0.0,
              pictures: bool = True) -> dict:
        """live.json; without pictures (a new job's first point: its chart begins at once, its map a turn
        later), only the numbers and the history."""
        args = self.run.cfg
        ips = self.rate() if state == "running" else self.ips        # the last training rate, once it ends
        return {"state": state, "message": message, "step": self.run.step, "images_per_s": round(ips, 1),
                "beta": args.beta, "lr": args.lr, "seconds_left": round(seconds_left, 1),
                "own_seconds": round(own_seconds, 2),
                "latent_dim": self.run.core.config.latent_dim, "history": self.rows, "marks": self.marks,
                "model_version": self.model_version,
                "originals": self.originals, "updated": time.time(), **(self.pictures() if pictures else {})}
