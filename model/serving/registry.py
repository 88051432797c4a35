"""The models a server offers: every folder under a weights root, loaded once at start.

A request names a model; names are the only handle it has, so no request can make the app read
another path.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..nets.limits import SLIDER_LIMIT, ExplorerError
from ..nets.placement import MapIndex
from ..nets.posterior import active_units
from ..nets.snapshots import SNAPSHOTS_NAME, load_snapshots
from ..nets.vae import ConvVAE
from ..nets.weights import WeightsError, load_atlas, load_metrics, load_vae

SWEEP_NAME = "lab-sweep.json"
ATLAS_KEYS = ("mu", "xy", "labels", "class_names", "map_method", "thumb_index", "thumbnails")


@dataclass
class LoadedModel:
    """A model with what the page shows beside it: the atlas (test-set means, map, thumbnails) and
    the metrics measured at training time."""

    name: str
    path: Path
    vae: ConvVAE
    atlas: dict
    metrics: dict
    map_index: MapIndex = field(init=False)
    latent_limit: float = field(init=False)     # the slider range, set once in __post_init__
    cache: dict = field(init=False, repr=False, default_factory=dict)   # measures computed once (side_by_side)

    def __post_init__(self) -> None:
        where, fix = self.path / "atlas.npz", f"rebuild it: `python -m model evaluate {self.path} --atlas`"
        missing = [k for k in ATLAS_KEYS + ("kl_per_dim" if self.kind == "vae" else "code_var",)
                   if k not in self.atlas]
        if missing:
            raise ValueError(f"{where}: lacks {', '.join(missing)}; {fix}")
        mu, xy = self.atlas["mu"], self.atlas["xy"]
        if mu.ndim != 2 or mu.shape[1] != self.dim or len(mu) == 0 or xy.shape != (len(mu), 2):
            raise ValueError(f"{where}: holds means of shape {mu.shape} and map {xy.shape}, not (N, {self.dim}) "
                             f"and (N, 2) for this model; {fix}")
        self.map_index = MapIndex(self.atlas["mu"], self.atlas["xy"], str(self.atlas["map_method"]))
        self.active = active_units(self.atlas["mu"])          # (D,) bool, Burda et al.'s definition
        # how far the sliders reach (every request clamps to it): ±4 covers 99.99% of N(0, 1) for a VAE;
        # an autoencoder's or VQ-VAE's codes are not held near the prior, so its range covers every test code
        self.latent_limit = SLIDER_LIMIT if self.kind == "vae" else float(
            max(SLIDER_LIMIT, np.ceil(np.abs(mu).max() * 1.1)))

    @property
    def config(self):
        return self.vae.config

    @property
    def kind(self) -> str:
        return self.vae.config.kind

    @property
    def description(self) -> str:
        """The one line the model picker shows beside the name (metrics.json "description")."""
        return " ".join(str(self.metrics.get("description", "")).split())[:160]

    def snapshots(self) -> dict | None:
        """What --snapshots recorded during training (model.nets.snapshots), or None; read once."""
        if "snapshots" not in self.cache:
            has = (self.path / SNAPSHOTS_NAME).is_file()
            self.cache["snapshots"] = load_snapshots(self.path) if has else None
        return self.cache["snapshots"]

    @property
    def dim(self) -> int:
        return self.vae.config.latent_dim

    @property
    def kl_per_dim(self) -> np.ndarray | None:
        """Average KL(q(z_d|x) || N(0, 1)) over the test set, per dimension (nats); None for an
        autoencoder or VQ-VAE, which have no KL per dimension."""
        kl = self.atlas.get("kl_per_dim")
        return None if kl is None else np.asarray(kl, dtype=np.float64)

    @property
    def dim_weight(self) -> np.ndarray:
        """What ranks the dimensions: the KL a VAE spends on each, else how much each code varies."""
        kl = self.kl_per_dim
        return kl if kl is not None else np.asarray(self.atlas["code_var"], dtype=np.float64)

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in self.atlas["class_names"]]

    def dims_by_kl(self, limit: int) -> list[int]:
        """The dimensions to show when only `limit` fit: all of them in order when they fit, else the
        `limit` with the largest average KL (the ones that carry the most information), largest first;
        for an autoencoder or VQ-VAE, the codes that vary most."""
        if self.dim <= limit:
            return list(range(self.dim))
        return [int(d) for d in np.argsort(-self.dim_weight, kind="stable")[:limit]]


class ModelRegistry:
    """A folder that fails to load is left out with a warning; none loading is an error."""

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
                self.models[d.name] = LoadedModel(d.name, d, load_vae(d), load_atlas(d), load_metrics(d))
            except (RuntimeError, KeyError, ValueError, IndexError, TypeError, OSError) as e:  # WeightsError too
                errors.append(" ".join(str(e).split()))
                self.warnings.append(f"skipping model {d.name!r}: {errors[-1]}")
        if not self.models:
            train = f"`python -m model train --out {self.root / 'NAME'}`"
            if errors:
                raise WeightsError(f"no usable model under {self.root}: {'; '.join(errors)}. Fix or remove the "
                                   f"folder, retrain it with {train}, or pass --weights DIR")
            raise WeightsError(f"no model folders (config.json + model.safetensors) under {self.root}: "
                               f"pass --weights DIR pointing at the shipped weights, or train one with {train}")

    def names(self) -> list[str]:
        return list(self.models)

    def lab_sweep(self) -> dict | None:
        """The beta sweep's test metrics (lab-sweep.json beside the model folders; model.training.lab), or None."""
        path = self.root / SWEEP_NAME
        if not path.is_file():
            return None
        try:
            sweep = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
            raise WeightsError(f"{path}: not valid JSON ({e})") from None
        return sweep if isinstance(sweep, dict) and isinstance(sweep.get("runs"), list) else None

    def default(self, preferred: str = "fashion-mnist") -> str:
        return preferred if preferred in self.models else self.names()[0]

    def get(self, name) -> LoadedModel:
        if not isinstance(name, str) or name not in self.models:
            raise ExplorerError(f"unknown model {str(name)[:80]!r}; choose one of: {', '.join(self.models)}")
        return self.models[name]
