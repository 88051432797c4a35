"""Weights folders: config.json + model.safetensors (+ atlas.npz, metrics.json).

In the style of diffusers' save_pretrained / from_pretrained. Nothing is ever unpickled:
tensors come from safetensors, the rest from JSON, the atlas from npz with allow_pickle=False.
Every file is written atomically (temp file in the same folder, fsync, os.replace), so a crash
mid-write leaves the previous file intact.
"""
from __future__ import annotations

import functools
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..nets.config import VAEConfig
from ..nets.vae import ConvVAE

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
ATLAS_NAME = "atlas.npz"
METRICS_NAME = "metrics.json"


class WeightsError(RuntimeError):
    """A weights folder is missing, incomplete, corrupt or inconsistent; the message names the file."""


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call write(tmp_path), then fsync and rename over path; on any failure remove the temp."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)                      # mkstemp makes 0600; weights are shared files
        with open(tmp, "rb+") as f:
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path, obj) -> None:
    def w(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
    atomic_write(path, w)


def save_pretrained(vae: ConvVAE, directory: str | os.PathLike, half: bool = False) -> None:
    """Write config.json and model.safetensors into directory.

    half=True stores float16 (what training exports, so shipped folders stay a few MB);
    load_vae always rebuilds a float32 model.
    """
    d = Path(directory)
    dtype = torch.float16 if half else None
    state = {k: v.detach().cpu().to(dtype if dtype and v.is_floating_point() else v.dtype).contiguous()
             for k, v in vae.state_dict().items()}
    atomic_write(d / WEIGHTS_NAME, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    write_json(d / CONFIG_NAME, vae.config.to_dict())


def save_network(net: torch.nn.Module, config: dict, weights_path: Path, config_path: Path, half: bool = False) -> None:
    """A network's tensors (the floating ones as float16 when half) and its config as JSON, each written
    atomically: the save half of a network that is not a model folder (the classifier; the prior's shape)."""
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in net.state_dict().items()}
    atomic_write(weights_path, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    write_json(config_path, config)


def load_network(build, weights_path: Path, config_path: Path, fix: str) -> torch.nn.Module:
    """build(the config's JSON) -> a network, filled strictly from weights_path (float16 cast back to float32),
    in eval mode. A missing, invalid or mismatched file raises WeightsError naming it; fix says how to make one."""
    for p in (config_path, weights_path):
        if not p.is_file():
            raise WeightsError(f"{p}: missing; {fix}")
    try:
        net = build(json.loads(config_path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError) as e:
        raise WeightsError(f"{config_path}: not a valid config ({e})") from None
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"{weights_path}: corrupt or truncated safetensors file ({e})") from None
    try:
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        raise WeightsError(f"{weights_path}: does not match {config_path.name} ({lines[-1][:200]})") from None
    return net.eval()


def load_config(directory: str | os.PathLike) -> VAEConfig:
    d = Path(directory)
    path = d / CONFIG_NAME
    if not d.is_dir():
        raise WeightsError(f"{d}: weights folder not found (train one with `python -m model train --out {d}`)")
    if not path.is_file():
        raise WeightsError(f"{path}: missing; a weights folder needs {CONFIG_NAME} and {WEIGHTS_NAME}")
    try:
        return VAEConfig.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError) as e:
        raise WeightsError(f"{path}: not a valid config ({e})") from None


ATLAS_FIX = "rerun training (or `python -m model evaluate --atlas`)"


def _require(path: Path, fix: str) -> None:
    if not path.is_file():
        raise WeightsError(f"{path}: missing; {fix}")


def require_files(directory: str | os.PathLike) -> None:
    """Raise the loaders' own WeightsError when model.safetensors or atlas.npz is absent. A server checks this
    at start-up for every folder without reading either file (fifty folders start as fast as one); their
    contents are checked when the model is first loaded."""
    d = Path(directory)
    _require(d / WEIGHTS_NAME, f"retrain or copy the weights file into {d}")
    _require(d / ATLAS_NAME, ATLAS_FIX)


def load_vae(directory: str | os.PathLike, device: str | torch.device = "cpu") -> ConvVAE:
    """Rebuild the ConvVAE a weights folder describes, in eval mode, strict about every tensor."""
    d = Path(directory)
    config = load_config(d)
    path = d / WEIGHTS_NAME
    _require(path, f"retrain or copy the weights file into {d}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"{path}: corrupt or truncated safetensors file ({e})") from None
    vae = ConvVAE(config)
    try:
        vae.load_state_dict(state, strict=True)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else lines[0]          # the first mismatching tensor
        raise WeightsError(f"{path}: does not match {CONFIG_NAME} ({detail[:200]})") from None
    return vae.to(device).eval()


def save_atlas(directory, **arrays: np.ndarray) -> None:
    """Write atlas.npz. An atlas that names `thumbnails_from` (a sibling folder trained on the same
    test set) keeps no thumbnails of its own: they are read from that folder's atlas on load."""
    if "thumbnails_from" in arrays:
        arrays = {k: v for k, v in arrays.items() if k != "thumbnails"}

    def w(tmp):
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    atomic_write(Path(directory) / ATLAS_NAME, w)


def _read_npz(path: Path, keys=None) -> dict[str, np.ndarray]:
    """The arrays of an .npz (only `keys`, those of them it holds, when given)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files if keys is None or k in keys}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise WeightsError(f"{path}: corrupt atlas ({e})") from None


@functools.lru_cache(maxsize=8)
def _thumbnails_of(path: str, stamp: tuple[int, int]) -> dict[str, np.ndarray]:
    """An atlas's thumbnails and their index, read once per file version (stamp: mtime, size) and shared by
    every model that names it in thumbnails_from (nothing writes into an atlas's arrays once loaded)."""
    return _read_npz(Path(path), keys=("thumbnails", "thumb_index"))


def load_atlas(directory) -> dict[str, np.ndarray]:
    """atlas.npz as arrays; shared thumbnails (see save_atlas) are filled in from their owner."""
    path = Path(directory) / ATLAS_NAME
    _require(path, ATLAS_FIX)
    atlas = _read_npz(path)
    if "thumbnails_from" in atlas and "thumbnails" not in atlas:
        atlas["thumbnails"] = shared_thumbnails(path, str(atlas["thumbnails_from"]), atlas.get("thumb_index"))
    return atlas


def shared_thumbnails(path: Path, owner: str, index) -> np.ndarray:
    """The thumbnails of a sibling folder's atlas, checked to be the same test images."""
    if not owner or owner in (".", "..") or "/" in owner or "\\" in owner:
        raise WeightsError(f"{path}: thumbnails_from must name a sibling folder, not {owner[:80]!r}")
    other = path.parent.parent / owner / ATLAS_NAME
    if not other.is_file():
        raise WeightsError(f"{path}: its thumbnails live in {other}, which is missing")
    st = other.stat()
    theirs = _thumbnails_of(str(other), (st.st_mtime_ns, st.st_size))
    if "thumbnails" not in theirs or index is None or not np.array_equal(theirs.get("thumb_index"), index):
        raise WeightsError(f"{path}: {other} does not hold the same test images' thumbnails; "
                           f"rebuild it: `python -m model evaluate {path.parent} --atlas`")
    return theirs["thumbnails"]


def load_metrics(directory) -> dict:
    path = Path(directory) / METRICS_NAME
    if not path.is_file():
        return {}
    try:
        metrics = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise WeightsError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(metrics, dict):                 # every reader looks keys up in it
        raise WeightsError(f"{path}: not a JSON object (found {type(metrics).__name__})")
    return metrics


def write_metrics(out: Path, metrics: dict) -> None:
    current = load_metrics(out)
    current.update(metrics)
    write_json(Path(out) / METRICS_NAME, current)


ATTRIBUTE_KEYS = ("attribute_names", "attribute_vectors", "attribute_notes")


def directions(atlas: dict) -> dict[str, np.ndarray]:
    """name -> (D,) vector, from an atlas (empty when it has none; model.analysis.attributes stores them)."""
    if "attribute_names" not in atlas:
        return {}
    return {str(n): v for n, v in zip(atlas["attribute_names"], atlas["attribute_vectors"], strict=True)}
