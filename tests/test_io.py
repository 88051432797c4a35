"""Weights folders (model/store/weights.py): exact round trips, atomic writes, and a clear WeightsError
naming the file for anything missing, truncated, corrupt or inconsistent. Nothing is unpickled."""
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from model import VAEConfig, WeightsError, load_vae, save_pretrained
from model.nets.vae import ConvVAE
from model.store import weights as mio

CFG = VAEConfig(widths=(8, 16), hidden=32, res_blocks=1, latent_dim=6, class_names=("a", "b"))


def make_vae(seed=0, cfg=CFG) -> ConvVAE:
    torch.manual_seed(seed)
    vae = ConvVAE(cfg)
    with torch.no_grad():          # move every parameter off its init so nothing is "default"
        for p in vae.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return vae.eval()


def outputs(vae, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(4, vae.config.channels, vae.config.image_size, vae.config.image_size, generator=g)
    z = torch.randn(4, vae.config.latent_dim, generator=g)
    with torch.no_grad():
        mu, lv = vae.encode(x)
        return mu, lv, vae.decode(z)


@pytest.fixture
def folder(tmp_path) -> Path:
    d = tmp_path / "w"
    save_pretrained(make_vae(), d)
    return d


# ---------------------------------------------------------------- round trips
def test_save_load_gives_identical_outputs_and_config(folder):
    original = make_vae()
    loaded = load_vae(folder)
    assert not loaded.training, "load_vae returns the model in eval mode"
    assert loaded.config == CFG
    assert json.loads((folder / "config.json").read_text())["latent_dim"] == 6
    for a, b in zip(outputs(original), outputs(loaded), strict=True):
        assert torch.equal(a, b)
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors"]      # no temp files


def test_half_round_trip_is_float32_close_and_stable(tmp_path):
    original = make_vae(1)
    save_pretrained(original, tmp_path / "h", half=True)
    stored = load_file(str(tmp_path / "h" / "model.safetensors"))
    assert all(t.dtype == torch.float16 for t in stored.values())
    a = load_vae(tmp_path / "h")
    assert all(p.dtype == torch.float32 for p in a.parameters())
    for x, y in zip(outputs(original), outputs(a), strict=True):
        assert torch.allclose(x, y, atol=0.05, rtol=0.02)           # fp16 rounding only
    # reload twice: identical; save the reloaded model half again: still identical
    b = load_vae(tmp_path / "h")
    save_pretrained(b, tmp_path / "h2", half=True)
    c = load_vae(tmp_path / "h2")
    for x, y, w in zip(outputs(a), outputs(b), outputs(c), strict=True):
        assert torch.equal(x, y) and torch.equal(x, w)


def test_colour_64px_config_round_trips(tmp_path):
    cfg = VAEConfig(image_size=64, channels=3, widths=(8, 8, 16, 16), hidden=32, latent_dim=4,
                    recon="mse", background="white")
    vae = make_vae(2, cfg)
    save_pretrained(vae, tmp_path / "c")
    loaded = load_vae(tmp_path / "c")
    assert loaded.config == cfg
    for a, b in zip(outputs(vae), outputs(loaded), strict=True):
        assert torch.equal(a, b)


# ---------------------------------------------------------------- broken folders
def expect_error(directory, names: str, *extra: str):
    with pytest.raises(WeightsError) as e:
        load_vae(directory)
    msg = str(e.value)
    assert names in msg, msg
    for s in extra:
        assert s in msg, msg
    assert "\n" not in msg
    return msg


def test_truncated_weights_name_the_file(folder):
    path = folder / "model.safetensors"
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 1, 100, 7, 0):
        path.write_bytes(data[:cut])
        expect_error(folder, str(path))


@pytest.mark.parametrize("junk", [b"\xff" * 4096, b"not a safetensors file at all", b"{}" * 10])
def test_corrupt_weights_name_the_file(folder, junk):
    (folder / "model.safetensors").write_bytes(junk)
    expect_error(folder, str(folder / "model.safetensors"))


def test_corrupt_header_with_valid_length_prefix(folder):
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    n = int.from_bytes(data[:8], "little")
    data[8:8 + n] = b"[" * n                         # header of the right length, not JSON
    path.write_bytes(bytes(data))
    expect_error(folder, str(path))


def test_weights_that_do_not_match_config_name_both_files(folder):
    cfg = json.loads((folder / "config.json").read_text())
    cfg["latent_dim"] = 7
    (folder / "config.json").write_text(json.dumps(cfg))
    expect_error(folder, str(folder / "model.safetensors"), "config.json")


def test_missing_or_extra_tensor_is_refused(folder):
    path = folder / "model.safetensors"
    state = load_file(str(path))
    save_file({k: v for k, v in state.items() if k != "decoder.fc.0.bias"}, str(path))
    expect_error(folder, str(path), "config.json")
    save_file({**state, "encoder.extra": torch.zeros(3)}, str(path))
    expect_error(folder, str(path))


@pytest.mark.parametrize("text", ["{not json", json.dumps({"latent_dim": 0}),
                                  json.dumps({"latent_dim": 4, "evil": 1}), json.dumps([1, 2]),
                                  json.dumps({"image_size": 30})])
def test_bad_config_names_config_json(folder, text):
    (folder / "config.json").write_text(text)
    expect_error(folder, str(folder / "config.json"))


def test_missing_files_and_folder_are_named(folder, tmp_path):
    (folder / "model.safetensors").unlink()
    expect_error(folder, str(folder / "model.safetensors"), "missing")
    (folder / "config.json").unlink()
    expect_error(folder, str(folder / "config.json"), "missing")
    expect_error(tmp_path / "nowhere", str(tmp_path / "nowhere"), "not found")


# ---------------------------------------------------------------- never unpickle
class _Marker:
    """Unpickling this creates a file: proof that something ran pickle."""
    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_in_place_of_the_weights_is_never_loaded(folder, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    _Marker.path = str(marker)
    torch.save({"x": _Marker()}, folder / "model.safetensors")
    expect_error(folder, str(folder / "model.safetensors"))
    assert not marker.exists()


def test_atlas_round_trip_and_pickled_atlas_refused(folder, tmp_path, monkeypatch):
    arrays = {"mu": np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32),
              "labels": np.arange(5, dtype=np.int16), "class_names": np.array(["a", "b"])}
    mio.save_atlas(folder, **arrays)
    got = mio.load_atlas(folder)
    assert set(got) == set(arrays) and all(np.array_equal(got[k], arrays[k]) for k in arrays)

    # an npz holding an object array (which only pickle can read) is refused, not unpickled
    marker = tmp_path / "pwned"
    _Marker.path = str(marker)
    with open(folder / "atlas.npz", "wb") as f:
        np.savez(f, mu=arrays["mu"], evil=np.array([_Marker()], dtype=object))
    with pytest.raises(WeightsError, match="atlas.npz"):
        mio.load_atlas(folder)
    assert not marker.exists()


def test_no_pickle_anywhere_when_loading(folder, monkeypatch):
    mio.save_atlas(folder, mu=np.zeros((2, 6), np.float32))
    mio.write_json(folder / "metrics.json", {"test_neg_elbo": 1.0})

    def forbidden(*a, **k):
        raise AssertionError("pickle used while loading a weights folder")

    for mod, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(mod, name, forbidden)
    load_vae(folder)
    assert mio.load_atlas(folder)["mu"].shape == (2, 6)
    assert mio.load_metrics(folder) == {"test_neg_elbo": 1.0}


def test_missing_and_corrupt_atlas_and_metrics(folder):
    with pytest.raises(WeightsError, match="atlas.npz.*missing"):
        mio.load_atlas(folder)
    (folder / "atlas.npz").write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(WeightsError, match="atlas.npz"):
        mio.load_atlas(folder)
    # a real, compressed atlas with damaged bytes (zlib / zip directory errors)
    mio.save_atlas(folder, mu=np.random.default_rng(0).random((200, 16), dtype=np.float32),
                   labels=np.arange(200, dtype=np.int16))
    good = (folder / "atlas.npz").read_bytes()
    for pos in (len(good) // 4, len(good) // 2, len(good) - 30):
        bad = bytearray(good)
        bad[pos:pos + 8] = b"\xff" * 8
        (folder / "atlas.npz").write_bytes(bytes(bad))
        with pytest.raises(WeightsError, match="atlas.npz"):
            mio.load_atlas(folder)
    assert mio.load_metrics(folder) == {}                                  # optional file
    (folder / "metrics.json").write_text("{oops")
    with pytest.raises(WeightsError, match="metrics.json"):
        mio.load_metrics(folder)


# ---------------------------------------------------------------- atomic writes
def test_atomic_write_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "f.bin"
    mio.atomic_write(target, lambda tmp: Path(tmp).write_bytes(b"old"))
    assert target.read_bytes() == b"old"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)

    def partial(tmp):
        Path(tmp).write_bytes(b"half-writ")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        mio.atomic_write(target, partial)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_failed_save_pretrained_keeps_previous_weights(folder, monkeypatch):
    before = {n: (folder / n).read_bytes() for n in os.listdir(folder)}

    def broken_replace(src, dst):
        raise OSError("simulated crash during rename")

    monkeypatch.setattr(mio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        save_pretrained(make_vae(seed=9), folder)
    monkeypatch.undo()
    assert {n: (folder / n).read_bytes() for n in os.listdir(folder)} == before
    for a, b in zip(outputs(make_vae()), outputs(load_vae(folder)), strict=True):
        assert torch.equal(a, b)


def test_shipped_style_folder_copies_load(folder, tmp_path):
    """A copied folder (what a user gets from git) loads from any path."""
    dst = tmp_path / "elsewhere" / "model"
    shutil.copytree(folder, dst)
    for a, b in zip(outputs(load_vae(folder)), outputs(load_vae(str(dst))), strict=True):
        assert torch.equal(a, b)


# ---------------------------------------------------------------- arrays to the page
def test_arrays_and_bytes_travel_to_the_page_as_base64_of_their_bytes():
    import base64

    from model.store.pictures import base64_of

    floats = np.array([[1.5, -2.0], [3.25, 0.0]])                     # float64, sent as little-endian float32
    assert np.frombuffer(base64.b64decode(base64_of(floats, "<f4")), "<f4").tolist() == [1.5, -2.0, 3.25, 0.0]
    strided = np.arange(12, dtype=np.uint8).reshape(3, 4)[:, ::2]      # a view: its own bytes, in C order
    assert np.frombuffer(base64.b64decode(base64_of(strided)), np.uint8).tolist() == [0, 2, 4, 6, 8, 10]
    assert base64.b64decode(base64_of(b"\x89PNG")) == b"\x89PNG"


def test_python_writes_base64_in_one_place():
    root = Path(__file__).resolve().parents[1]
    users = sorted(str(p.relative_to(root)) for folder in ("model", "ui") for p in (root / folder).rglob("*.py")
                   if "b64encode" in p.read_text())
    assert users == ["model/store/pictures.py"]
