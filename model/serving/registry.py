"""The models a server offers, by name: every folder under a weights root, and trained runs added
while it serves.

Start-up reads only what the picker needs (config.json, metrics.json, and that the weights and atlas
files exist), so fifty folders start about as fast as one. A model's weights and atlas are read on
first use, and at most `max_loaded` models stay in memory, the least recently used going first.
A request names a model; names are the only handle it has, so no request can make the app read
another path.
"""
from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..nets.config import VAEConfig
from ..nets.kinds import kind_of
from ..nets.limits import SLIDER_LIMIT, ExplorerError
from ..nets.placement import MapIndex
from ..nets.posterior import active_units
from ..nets.vae import ConvVAE
from ..store.companions import attach_prior
from ..store.snapshots import SNAPSHOTS_NAME, load_snapshots
from ..store.weights import WeightsError, load_atlas, load_config, load_metrics, load_vae, require_files

SWEEP_NAME = "lab-sweep.json"
QUALITY_NAME = "sample-quality.json"
ATLAS_KEYS = ("mu", "xy", "labels", "class_names", "map_method", "thumb_index", "thumbnails")
SOURCES = ("shipped", "trained")          # a folder under the root; a run added while serving (add)
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")     # no comma: /compare splits names on commas
LOAD_ERRORS = (RuntimeError, KeyError, ValueError, IndexError, TypeError, OSError)   # WeightsError too


def one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def describe(metrics: dict) -> str:
    """The one line the model picker shows beside the name (metrics.json "description")."""
    return " ".join(str(metrics.get("description", "")).split())[:160]


@dataclass(frozen=True)
class ModelEntry:
    """What the picker and the model listing need, read without the weights: a server keeps one per
    model however many there are, and loads the model itself (LoadedModel) only when a request uses it."""

    name: str
    path: Path
    config: VAEConfig
    metrics: dict
    source: str = "shipped"

    @classmethod
    def read(cls, name: str, path: str | os.PathLike, source: str = "shipped") -> ModelEntry:
        """config.json and metrics.json read and model.safetensors and atlas.npz present, or WeightsError
        naming the file; their contents are checked on first load (load_model)."""
        path = Path(path)
        try:
            config = load_config(path)
            require_files(path)
            return cls(name, path, config, load_metrics(path), source)
        except WeightsError:
            raise
        except LOAD_ERRORS as e:                # e.g. a file that cannot be read: still a bad folder
            raise WeightsError(f"{path}: {one_line(e)}") from None

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def dim(self) -> int:
        return self.config.latent_dim

    @property
    def description(self) -> str:
        return describe(self.metrics)


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
        missing = [k for k in ATLAS_KEYS + kind_of(self).atlas_keys if k not in self.atlas]
        if missing:
            raise ValueError(f"{where}: lacks {', '.join(missing)}; {fix}")
        mu, xy = self.atlas["mu"], self.atlas["xy"]
        if mu.ndim != 2 or mu.shape[1] != self.dim or len(mu) == 0 or xy.shape != (len(mu), 2):
            raise ValueError(f"{where}: holds means of shape {mu.shape} and map {xy.shape}, not (N, {self.dim}) "
                             f"and (N, 2) for this model; {fix}")
        self.map_index = MapIndex(self.atlas["mu"], self.atlas["xy"], str(self.atlas["map_method"]))
        self.active = active_units(self.atlas["mu"])          # (D,) bool, Burda et al.'s definition
        # how far the sliders reach (every request clamps to it): ±4 covers 99.99% of N(0, 1), where a kind's z
        # stays near it (a VAE's KL term holds it there; a GAN's z is drawn from it); an autoencoder's or VQ-VAE's
        # codes are not held near the prior, so its range covers every test code
        self.latent_limit = SLIDER_LIMIT if kind_of(self).prior_scaled else float(
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
        return describe(self.metrics)

    def snapshots(self) -> dict | None:
        """What --snapshots recorded during training (model.store.snapshots), or None; read once."""
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


def load_model(entry: ModelEntry) -> LoadedModel:
    """Read the weights and the atlas that start-up skipped. A corrupt or mismatched file raises one
    line naming the model and the file (the page shows it as a gr.Error; the server serves on)."""
    try:
        vae = load_vae(entry.path)
        attach_prior(vae, entry.path)                              # a VQ-VAE's learned prior, when shipped
        return LoadedModel(entry.name, entry.path, vae, load_atlas(entry.path), entry.metrics)
    except LOAD_ERRORS as e:                                       # WeightsError and ValueError name the file
        detail = one_line(e)
        where = "" if str(entry.path) in detail else f" (in {entry.path})"
        raise WeightsError(f"model {entry.name!r}: {detail}{where}") from None


class ModelRegistry:
    """The models by name: an entry each (ModelEntry, read at start-up) and at most `max_loaded` of
    them loaded (LoadedModel, on first use, least recently used out). A folder under the root that
    fails the start-up checks is left out with a warning; none passing is an error.

    Gradio runs handlers in threads: one lock guards the entries and the loaded models, and a model
    is loaded outside it (other models stay served meanwhile), once however many threads ask for it.
    """

    def __init__(self, root: str | os.PathLike, max_loaded: int = 6,
                 on_evict: Callable[[], None] | None = None) -> None:
        """on_evict: called (outside the lock) after models were let go, e.g. to hand their memory back to
        the OS (the server's ui/server.py release_memory; model/ knows nothing of the C library)."""
        if max_loaded < 1:
            raise ValueError(f"max_loaded must be at least 1, not {max_loaded}")
        self.root, self.max_loaded, self.on_evict = Path(root), max_loaded, on_evict
        self.warnings: list[str] = []
        self._entries: dict[str, ModelEntry] = {}
        self._loaded: OrderedDict[str, LoadedModel] = OrderedDict()     # least recently used first
        self._loading: set[str] = set()                                 # names a thread is loading now
        self._lock = threading.Condition(threading.RLock())
        self._version = 0
        self._scan()

    def _scan(self) -> None:
        if not self.root.is_dir():
            raise WeightsError(f"{self.root}: weights folder not found; pass --weights DIR (a folder of model "
                               f"folders, like the repository's weights/)")
        errors = []
        for d in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                self._entries[d.name] = ModelEntry.read(d.name, d, "shipped")
            except WeightsError as e:
                errors.append(one_line(e))
                self.warnings.append(f"skipping model {d.name!r}: {errors[-1]}")
        if not self._entries:
            raise self._none_usable(errors)

    def _none_usable(self, errors: list[str]) -> WeightsError:
        train = f"`python -m model train --out {self.root / 'NAME'}`"
        if errors:
            return WeightsError(f"no usable model under {self.root}: {'; '.join(errors)}. Fix or remove the "
                                f"folder, retrain it with {train}, or pass --weights DIR")
        return WeightsError(f"no model folders (config.json + model.safetensors) under {self.root}: "
                            f"pass --weights DIR pointing at the shipped weights, or train one with {train}")

    # ------------------------------------------------------------ the entries (no weights read)
    @property
    def version(self) -> int:
        """Goes up on every add or remove: the page compares it with the one its picker was built from."""
        return self._version

    def entries(self) -> list[ModelEntry]:
        """In picker order: the shipped models by name, then the trained ones in the order they were added."""
        with self._lock:
            every = list(self._entries.values())
        shipped = sorted((e for e in every if e.source == "shipped"), key=lambda e: e.name)
        return shipped + [e for e in every if e.source != "shipped"]

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def listing(self) -> list[dict]:
        """[{name, kind, latent_dim, source}] in picker order: what a client needs to choose a model."""
        return [{"name": e.name, "kind": e.kind, "latent_dim": e.dim, "source": e.source} for e in self.entries()]

    def __contains__(self, name) -> bool:
        with self._lock:
            return isinstance(name, str) and name in self._entries

    def entry(self, name) -> ModelEntry:
        """The model's entry; an unknown name (from a request: anything) gets the list to choose from."""
        with self._lock:
            if not isinstance(name, str) or name not in self._entries:
                raise ExplorerError(f"unknown model {str(name)[:80]!r}; choose one of: {', '.join(self.names())}")
            return self._entries[name]

    def default(self, preferred: str = "fashion-mnist") -> str:
        return preferred if preferred in self else self.names()[0]

    def lab_sweep(self) -> dict | None:
        """The beta sweep's test metrics (lab-sweep.json beside the model folders; model.training.lab), or None."""
        return self._table(SWEEP_NAME, "runs")

    def sample_quality(self) -> dict | None:
        """FID, precision, recall and sharpness of every model's samples, with the training set as the floor
        (sample-quality.json beside the model folders; `python bench/quality.py --json`), or None."""
        return self._table(QUALITY_NAME, "rows")

    def _table(self, name: str, key: str) -> dict | None:
        """A JSON file of rows beside the model folders: {key: [...], ...}, or None when absent or rowless."""
        path = self.root / name
        if not path.is_file():
            return None
        try:
            table = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
            raise WeightsError(f"{path}: not valid JSON ({e})") from None
        return table if isinstance(table, dict) and isinstance(table.get(key), list) else None

    # ------------------------------------------------------------ trained runs, added while serving
    def add(self, name: str, path: str | os.PathLike, source: str = "trained") -> ModelEntry:
        """Offer a weights folder outside the root (a training run's published model) under `name`,
        checked as start-up checks a folder (WeightsError otherwise). A shipped model's name is refused;
        adding a trained name again replaces it in place and drops its loaded copy, so the next request
        sees the newer snapshot."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        if not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
            raise WeightsError(f"{str(name)[:80]!r} is not a model name: 1 to 100 letters, digits, '.', '_' "
                               f"or '-', starting with a letter or digit")
        entry = ModelEntry.read(name, path, source)                # reads files: outside the lock
        with self._lock:
            old = self._entries.get(name)
            if old is not None and old.source == "shipped":
                raise WeightsError(f"{name!r} clashes with a shipped model; pick another name")
            self._entries[name] = entry
            dropped = self._forget_loaded(name)
        self._released(dropped)
        return entry

    def remove(self, name: str) -> None:
        """Stop offering a trained model (its folder stays on disk); shipped models cannot be removed."""
        with self._lock:
            if self.entry(name).source == "shipped":
                raise ExplorerError(f"{name!r} is a shipped model; only trained models can be removed")
            del self._entries[name]
            dropped = self._forget_loaded(name)
        self._released(dropped)

    def _forget_loaded(self, name: str) -> bool:
        """A new version of the entries, without this name's loaded copy (lock held); True if it had one."""
        self._version += 1
        return self._loaded.pop(name, None) is not None

    def _released(self, dropped) -> None:
        if dropped and self.on_evict is not None:
            self.on_evict()

    # ------------------------------------------------------------ the models themselves (loaded on use)
    def get(self, name) -> LoadedModel:
        """The model, loaded on first use; the `max_loaded` most recently used stay loaded. A bad weights
        or atlas file raises WeightsError naming the model and the file; other models are unaffected."""
        entry, model = self._claim(name)
        if model is not None:
            return model
        try:
            model = load_model(entry)
        finally:
            evicted = self._settle(name, entry, model)
        self._released(evicted)
        return model

    def _claim(self, name) -> tuple[ModelEntry, LoadedModel | None]:
        """(entry, the loaded model) if it is loaded, else (entry, None) with the name marked as loading by
        this thread; waits while another thread loads it (a second load would double the work and memory)."""
        with self._lock:
            entry = self.entry(name)
            while name in self._loading:
                self._lock.wait()
                entry = self.entry(name)                          # removed or replaced meanwhile?
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return entry, self._loaded[name]
            self._loading.add(name)
            return entry, None

    def _settle(self, name: str, entry: ModelEntry, model: LoadedModel | None) -> int:
        """Keep a model just loaded (unless its entry was replaced meanwhile), evict the least recently
        used beyond max_loaded, and wake the threads waiting for it (after a failure they try again).
        Returns how many were evicted."""
        evicted = []
        with self._lock:
            self._loading.discard(name)
            if model is not None and self._entries.get(name) is entry:
                self._loaded[name] = model
                while len(self._loaded) > self.max_loaded:
                    evicted.append(self._loaded.popitem(last=False))
            self._lock.notify_all()
        n = len(evicted)
        del evicted                                  # the last references (unless a request still holds one)
        return n

    def loaded_names(self) -> list[str]:
        """The models in memory now, least recently used first (tests and benchmarks)."""
        with self._lock:
            return list(self._loaded)

    def load_default(self, preferred: str = "fashion-mnist") -> LoadedModel:
        """The model the page opens with, loaded: `preferred`, else the first in picker order that loads.
        One that fails is left out with a warning, as at start-up; none loading is the start-up error."""
        errors = []
        for name in dict.fromkeys([preferred, *self.names()]):
            if name not in self:
                continue
            try:
                return self.get(name)
            except WeightsError as e:
                errors.append(one_line(e))
                self.warnings.append(f"skipping {errors[-1]}")
                with self._lock:
                    self._entries.pop(name, None)
                    self._forget_loaded(name)
        raise self._none_usable(errors)
