"""A trained model as one zip file: downloaded from one server (the Train tab), loaded on another.

A model zip holds the files of a weights folder (weights.py) at its top level and nothing else:
config.json and model.safetensors, and atlas.npz and metrics.json when the folder has them. A zip from
a stranger is read, never extracted as it stands and never unpickled: unpack_model reads each entry into
memory within its size cap, checks the whole zip (names, sizes, compression ratios, that the config and
the tensors agree, that the atlas holds plain arrays) before writing anything, writes the files into a
hidden temporary folder beside dest, loads them back with load_vae and load_atlas, and only then renames
the folder to dest. Every WeightsError names the zip by its file name, never a server path.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from ..nets.config import VAEConfig
from ..nets.vae import ConvVAE
from .weights import (
    ATLAS_NAME,
    CONFIG_NAME,
    METRICS_NAME,
    WEIGHTS_NAME,
    WeightsError,
    atomic_write,
    load_atlas,
    load_config,
    load_vae,
)

MODEL_ZIP_FILES = (CONFIG_NAME, WEIGHTS_NAME, ATLAS_NAME, METRICS_NAME)
REQUIRED_FILES = (CONFIG_NAME, WEIGHTS_NAME)
MB = 2**20
# Per-file caps. The largest shipped model is 7 MB of float16 safetensors (a float32 one twice that) and
# the largest atlas 0.6 MB; 64 MB holds a model far larger than the Train tab makes, and stays small
# enough to read into memory while checking it.
MAX_BYTES = {CONFIG_NAME: 1 * MB, WEIGHTS_NAME: 64 * MB, ATLAS_NAME: 32 * MB, METRICS_NAME: 1 * MB}
MAX_ZIP_BYTES = sum(MAX_BYTES.values()) + MB          # the zip itself, before its directory is read
# Tensors and arrays barely compress; a zip bomb compresses ~1000 to 1. Entries below RATIO_FLOOR cannot
# hurt on their own (the caps bound them), so a small, very regular JSON file is not refused.
MAX_RATIO = 100
RATIO_FLOOR = MB
# atlas.npz is a zip too: its arrays once unpacked (the shipped atlases: under 10 MB).
MAX_ATLAS_ARRAYS_BYTES = 256 * MB
# The app's models decode 28x28 to 64x64 pictures. A config can ask for any size with a handful of tiny
# layers (the tensors would not show it), and every decode would then allocate that picture.
MAX_IMAGE_SIZE = 256
FIXED_DATE = (1980, 1, 1, 0, 0, 0)                     # the same model always packs to the same bytes
SHARED_THUMBNAILS = "thumbnails_from"


# ---------------------------------------------------------------- packing
def pack_model(folder: str | os.PathLike) -> bytes:
    """A weights folder -> the bytes of its model zip (the caller writes them where it serves downloads;
    write_model_zip writes them atomically). An atlas that borrows its thumbnails from a sibling folder
    (save_atlas's thumbnails_from) gets them inlined, so the zip loads on its own anywhere."""
    d = Path(folder)
    load_config(d)                                     # not a weights folder: its own clear message
    if not (d / WEIGHTS_NAME).is_file():
        raise WeightsError(f"{d / WEIGHTS_NAME}: missing; a model zip needs {CONFIG_NAME} and {WEIGHTS_NAME}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in MODEL_ZIP_FILES:
            if (d / name).is_file():
                _add(zf, name, _packed_bytes(d, name))
    return buf.getvalue()


def write_model_zip(folder: str | os.PathLike, path: str | os.PathLike) -> Path:
    """pack_model(folder) written to path atomically (temp file, fsync, rename)."""
    data = pack_model(folder)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return Path(path)


def _packed_bytes(d: Path, name: str) -> bytes:
    """A file's bytes as they go into the zip: as they are, but an atlas with shared thumbnails inlined;
    a file over its cap is refused here, so every zip pack_model makes unpacks."""
    data = (d / name).read_bytes()
    if name == ATLAS_NAME and SHARED_THUMBNAILS in _npz_names(data):
        atlas = {k: v for k, v in load_atlas(d).items() if k != SHARED_THUMBNAILS}
        out = io.BytesIO()
        np.savez_compressed(out, **atlas)
        data = out.getvalue()
    if len(data) > MAX_BYTES[name]:
        raise WeightsError(f"{d / name}: {len(data) / MB:.1f} MB, too large for a model zip "
                           f"(at most {MAX_BYTES[name] // MB} MB)")
    return data


def _npz_names(data: bytes) -> set[str]:
    """The array names of an npz, from its directory alone."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n.removesuffix(".npy") for n in z.namelist()}


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    """One top-level file, dated FIXED_DATE; tensors and npz are stored as they are (they barely compress)."""
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    zf.writestr(info, data)


# ---------------------------------------------------------------- unpacking
def unpack_model(zip_path: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """A model zip -> the new weights folder dest (which must not exist), checked whole before anything is
    written and loaded back before it appears under its name; on any failure nothing is left behind."""
    zip_path, dest = Path(zip_path), Path(dest)
    label = zip_path.name
    if dest.exists():
        raise WeightsError(f"a model named {dest.name!r} already exists: choose another name")
    files = read_model_zip(zip_path)
    check_model_files(files, label)
    return _install(files, dest, label)


def read_model_zip(zip_path: str | os.PathLike) -> dict[str, bytes]:
    """name -> bytes of every entry of a model zip whose directory passes the checks (_check_entries),
    each read within its cap (in case the headers lie)."""
    zip_path = Path(zip_path)
    label = zip_path.name
    try:
        size = zip_path.stat().st_size
        if size > MAX_ZIP_BYTES:
            raise WeightsError(f"{label} is {size / MB:,.0f} MB; a model zip is at most {MAX_ZIP_BYTES // MB} MB")
        zf = zipfile.ZipFile(zip_path)
    except FileNotFoundError:
        raise WeightsError(f"{label} was not found (the upload may have expired: upload it again)") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)[:120]
        raise WeightsError(f"{label} is not a readable zip file ({reason})") from None
    with zf:
        infos = zf.infolist()
        _check_entries(infos, label)
        return {info.filename: _read_entry(zf, info, label) for info in infos}


def _check_entries(infos: list[zipfile.ZipInfo], label: str) -> None:
    """Only the weights folder's files, once each, at the top level, plain and unencrypted, within their
    caps and not compressed like a bomb; config.json and model.safetensors among them."""
    seen = set()
    for info in infos:
        name = info.filename
        if name not in MODEL_ZIP_FILES:
            raise WeightsError(f"{label} holds {name[:120]}: a model zip holds only {CONFIG_NAME}, {WEIGHTS_NAME}, "
                               f"{ATLAS_NAME} and {METRICS_NAME}")
        if name in seen:
            raise WeightsError(f"{label} holds {name} twice")
        seen.add(name)
        if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
            raise WeightsError(f"{label}: {name} is a symbolic link, not a file")
        if info.flag_bits & 0x1:
            raise WeightsError(f"{label}: {name} is encrypted; a model zip is not")
        if info.file_size > MAX_BYTES[name]:
            raise WeightsError(f"{label}: {name} unpacks to {info.file_size / MB:,.1f} MB; "
                               f"at most {MAX_BYTES[name] // MB} MB")
        _check_ratio(info, label)
    missing = [n for n in REQUIRED_FILES if n not in seen]
    if missing:
        raise WeightsError(f"{label} lacks {' and '.join(missing)}: a model zip needs {CONFIG_NAME} and "
                           f"{WEIGHTS_NAME}")


def _check_ratio(info: zipfile.ZipInfo, label: str) -> None:
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise WeightsError(f"{label}: {info.filename} is compressed {info.file_size / max(info.compress_size, 1):,.0f}"
                           " to 1 (a zip bomb?); refused")


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes:
    cap = MAX_BYTES[info.filename]
    try:
        with zf.open(info) as f:
            data = f.read(cap + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as e:
        raise WeightsError(f"{label}: {info.filename} is damaged in the zip ({str(e)[:120]})") from None
    if len(data) > cap:
        raise WeightsError(f"{label}: {info.filename} unpacks to more than {cap // MB} MB")
    return data


# ---------------------------------------------------------------- checking the contents, in memory
def check_model_files(files: dict[str, bytes], label: str) -> VAEConfig:
    """The zip's files checked in memory: a config the app can build, tensors that match it exactly and
    are finite, an atlas of plain arrays that fits the model, metrics that are a JSON object."""
    config = _config_of(files[CONFIG_NAME], label)
    _check_tensors(files[WEIGHTS_NAME], config, label)
    if ATLAS_NAME in files:
        _check_atlas(files[ATLAS_NAME], config, label)
    if METRICS_NAME in files and not isinstance(_json_of(files[METRICS_NAME], METRICS_NAME, label), dict):
        raise WeightsError(f"{label}: {METRICS_NAME} is not a JSON object")
    return config


def _json_of(data: bytes, name: str, label: str):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as e:
        raise WeightsError(f"{label}: {name} is not valid JSON ({str(e)[:120]})") from None


def _config_of(data: bytes, label: str) -> VAEConfig:
    d = _json_of(data, CONFIG_NAME, label)
    if not isinstance(d, dict):
        raise WeightsError(f"{label}: {CONFIG_NAME} is not a JSON object")
    try:
        config = VAEConfig.from_dict(d)
    except (TypeError, ValueError) as e:
        raise WeightsError(f"{label}: {CONFIG_NAME} is not a valid config ({str(e)[:200]})") from None
    if config.image_size > MAX_IMAGE_SIZE:
        raise WeightsError(f"{label}: {CONFIG_NAME} asks for {config.image_size}x{config.image_size} pictures; "
                           f"a model zip's are at most {MAX_IMAGE_SIZE}x{MAX_IMAGE_SIZE}")
    return config


def _check_tensors(data: bytes, config: VAEConfig, label: str) -> None:
    """The tensors' names and shapes against the model the config describes, built on the meta device
    (no memory: a config describing a huge model is refused before anything that size is allocated)."""
    try:
        tensors = load_safetensors(data)
    except (SafetensorError, ValueError, OverflowError, TypeError) as e:
        raise WeightsError(f"{label}: {WEIGHTS_NAME} is corrupt or truncated ({str(e)[:120]})") from None
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in ConvVAE(config).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    if got != expected:
        raise WeightsError(f"{label}: {WEIGHTS_NAME} does not match {CONFIG_NAME} ({_first_difference(expected, got)})")
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise WeightsError(f"{label}: {WEIGHTS_NAME} holds NaN or infinite values (training diverged)")


def _first_difference(expected: dict, got: dict) -> str:
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if missing:
        return f"missing tensor {missing[0][:80]}"
    if extra:
        return f"unexpected tensor {extra[0][:80]}"
    name = next(k for k in expected if expected[k] != got[k])
    return f"{name}: shape {got[name]}, the config needs {expected[name]}"


def _check_atlas(data: bytes, config: VAEConfig, label: str) -> None:
    """Plain arrays only (allow_pickle=False: an object array is refused, never unpickled), within
    MAX_ATLAS_ARRAYS_BYTES unpacked, holding its own thumbnails, with means and thumbnails that fit."""
    arrays = _atlas_arrays(data, label)
    if SHARED_THUMBNAILS in arrays:
        raise WeightsError(f"{label}: {ATLAS_NAME} borrows its thumbnails from another folder; "
                           "pack the model again (pack_model puts them inside)")
    mu, thumbs = arrays.get("mu"), arrays.get("thumbnails")
    if mu is not None and (mu.ndim != 2 or mu.shape[1] != config.latent_dim):
        raise WeightsError(f"{label}: {ATLAS_NAME} holds means of shape {mu.shape}, not (N, {config.latent_dim})")
    shape = (config.channels, config.image_size, config.image_size)
    if thumbs is not None and (thumbs.ndim != 4 or thumbs.shape[1:] != shape):
        raise WeightsError(f"{label}: {ATLAS_NAME} holds thumbnails of shape {thumbs.shape}, not (N, {shape})")


def _atlas_arrays(data: bytes, label: str) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
        total = sum(i.file_size for i in infos)
        if total > MAX_ATLAS_ARRAYS_BYTES:
            raise WeightsError(f"{label}: {ATLAS_NAME} unpacks to {total / MB:,.0f} MB; "
                               f"at most {MAX_ATLAS_ARRAYS_BYTES // MB} MB")
        for info in infos:
            _check_ratio(info, f"{label}: {ATLAS_NAME}")
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, zlib.error, NotImplementedError) as e:
        raise WeightsError(f"{label}: {ATLAS_NAME} is not an atlas of plain arrays ({str(e)[:120]})") from None


# ---------------------------------------------------------------- writing, loading back, renaming
def _install(files: dict[str, bytes], dest: Path, label: str) -> Path:
    """Write into a hidden temporary folder beside dest (the registry skips dot-folders), load it back,
    rename it to dest; remove it on any failure, so dest is either complete and loadable or absent."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".unpacking", dir=dest.parent))
    try:
        for name, data in files.items():
            atomic_write(tmp / name, lambda t, data=data: Path(t).write_bytes(data))
        _load_back(tmp, label)
        os.chmod(tmp, 0o755)                                   # mkdtemp makes 0700; weights are shared
        if dest.exists():
            raise WeightsError(f"a model named {dest.name!r} already exists: choose another name")
        os.rename(tmp, dest)
    except OSError as e:
        raise WeightsError(f"{label} could not be written as {dest.name!r} ({e.strerror or e})") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _load_back(folder: Path, label: str) -> None:
    """What the server will do with the folder: load_vae (strict) and load_atlas (no pickle)."""
    try:
        load_vae(folder)
        if (folder / ATLAS_NAME).is_file():
            load_atlas(folder)
    except WeightsError as e:
        raise WeightsError(f"{label} does not load as a model: {str(e).replace(str(folder) + os.sep, '')}") from None
