"""A trained model as one zip (model/store/bundle.py): a shipped model packs and unpacks to the same
decoder; a zip with anything but the four weights files, a path, a pickle, an oversized or bomb-like
entry, tensors that do not match the config, or a bad atlas is refused with a message naming the zip
and the entry, before anything is written; and a refused zip leaves nothing behind."""
import io
import json
import os
import pickle
import re
import stat
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_safetensors

from model import VAEConfig, WeightsError, load_vae, save_pretrained
from model.nets.vae import ConvVAE
from model.store import bundle as mb
from model.store.weights import load_atlas, save_atlas, write_json

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = Path(os.environ.get("VAE_WEIGHTS", ROOT / "weights"))
CFG = VAEConfig(widths=(8, 16), hidden=32, res_blocks=1, latent_dim=6, class_names=("a", "b"))
ONLY = "a model zip holds only config.json, model.safetensors, atlas.npz and metrics.json"


class _Marker:
    """Unpickling this creates a file: proof that something ran pickle."""
    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A small trained-looking weights folder with all four files."""
    torch.manual_seed(0)
    d = tmp_path / "tiny"
    save_pretrained(ConvVAE(CFG).eval(), d)
    save_atlas(d, mu=np.zeros((5, 6), np.float32), thumbnails=np.zeros((5, 1, 28, 28), np.uint8),
               class_names=np.array(["a", "b"]))
    write_json(d / "metrics.json", {"test_neg_elbo": 1.0})
    return d


def entries_of(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in mb.MODEL_ZIP_FILES if (folder / n).is_file()}


def make_zip(path: Path, entries: dict, compression=zipfile.ZIP_STORED) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)                 # "Duplicate name"
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, data in (entries.items() if isinstance(entries, dict) else entries):
                if isinstance(data, tuple):
                    zf.writestr(*data)                                # (ZipInfo, bytes): an odd entry
                else:
                    zf.writestr(name, data)
    return path


def refused(zip_path: Path, message: str, tmp_path: Path):
    """unpack_model refuses with message (a regex) and leaves nothing in the destination's folder."""
    out = tmp_path / "models"
    out.mkdir(exist_ok=True)
    with pytest.raises(WeightsError, match=message) as e:
        mb.unpack_model(zip_path, out / "new")
    assert list(out.iterdir()) == [], "a refused zip left files behind"
    assert str(tmp_path) not in str(e.value), "the message names a server path"
    return str(e.value)


def decode(vae, seed=0):
    z = torch.randn(8, vae.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return vae.decode(z)


# ---------------------------------------------------------------- round trips
def test_a_shipped_model_round_trips_to_the_same_decoder(tmp_path):
    source = WEIGHTS / "fashion-mnist-2d"
    data = mb.pack_model(source)
    assert data == mb.pack_model(source)                         # the same model, the same bytes
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == list(mb.MODEL_ZIP_FILES)         # four top-level files, no folders
    (tmp_path / "fashion.zip").write_bytes(data)
    dest = mb.unpack_model(tmp_path / "fashion.zip", tmp_path / "models" / "mine")
    assert dest == tmp_path / "models" / "mine"
    assert sorted(os.listdir(tmp_path / "models")) == ["mine"]   # no temporary folder left
    assert sorted(os.listdir(dest)) == sorted(mb.MODEL_ZIP_FILES)
    assert torch.equal(decode(load_vae(source)), decode(load_vae(dest)))
    # the shipped atlas borrows its thumbnails from a sibling folder: the zip carries them itself
    original, unpacked = load_atlas(source), load_atlas(dest)
    assert "thumbnails_from" in original and "thumbnails_from" not in unpacked
    assert set(unpacked) == set(original) - {"thumbnails_from"}
    assert all(np.array_equal(unpacked[k], original[k]) for k in unpacked)
    assert (dest / "metrics.json").read_bytes() == (source / "metrics.json").read_bytes()


def test_write_model_zip_and_a_folder_that_is_not_a_model(tiny, tmp_path):
    path = mb.write_model_zip(tiny, tmp_path / "out" / "tiny.zip")
    assert path.read_bytes() == mb.pack_model(tiny) and os.listdir(tmp_path / "out") == ["tiny.zip"]
    dest = mb.unpack_model(path, tmp_path / "again")
    assert torch.equal(decode(load_vae(tiny)), decode(load_vae(dest)))
    (tiny / "model.safetensors").unlink()
    with pytest.raises(WeightsError, match="model.safetensors: missing"):
        mb.pack_model(tiny)
    with pytest.raises(WeightsError, match="not found"):
        mb.pack_model(tmp_path / "nowhere")


def test_only_config_and_weights_are_needed(tiny, tmp_path):
    files = entries_of(tiny)
    zipped = make_zip(tmp_path / "bare.zip", {k: files[k] for k in mb.REQUIRED_FILES})
    dest = mb.unpack_model(zipped, tmp_path / "bare")
    assert sorted(os.listdir(dest)) == ["config.json", "model.safetensors"]


def test_no_pickle_is_used_while_unpacking(tiny, tmp_path, monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError("pickle used while unpacking a model zip")

    for mod, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(mod, name, forbidden)
    mb.write_model_zip(tiny, tmp_path / "tiny.zip")
    mb.unpack_model(tmp_path / "tiny.zip", tmp_path / "unpacked")


# ---------------------------------------------------------------- refused before anything is written
def test_an_extra_file_is_refused_naming_it(tiny, tmp_path):
    zipped = make_zip(tmp_path / "model.zip", {**entries_of(tiny), "evil.pkl": b"\x80\x04N."})
    refused(zipped, f"^{re.escape(f'model.zip holds evil.pkl: {ONLY}')}$", tmp_path)


@pytest.mark.parametrize("name", ["../config.json", "/config.json", "tiny/config.json", "tiny/", "..\\config.json"])
def test_paths_and_folders_are_refused(tiny, tmp_path, name):
    files = entries_of(tiny)
    entries = {**{k: v for k, v in files.items() if k != "config.json"}, name: files["config.json"]}
    refused(make_zip(tmp_path / "slip.zip", entries), f"^slip.zip holds {re.escape(name)}: {re.escape(ONLY)}$",
            tmp_path)


def test_a_pickle_is_refused_and_never_run(tiny, tmp_path):
    marker = tmp_path / "pwned"
    _Marker.path = str(marker)
    buf = io.BytesIO()
    torch.save({"x": _Marker()}, buf)
    refused(make_zip(tmp_path / "pt.zip", {**entries_of(tiny), "model.pt": buf.getvalue()}),
            f"^pt.zip holds model.pt: {ONLY}$", tmp_path)
    files = entries_of(tiny) | {"model.safetensors": buf.getvalue()}          # in place of the weights
    refused(make_zip(tmp_path / "pickled.zip", files), "^pickled.zip: model.safetensors is corrupt or truncated",
            tmp_path)
    arrays = io.BytesIO()
    np.savez(arrays, mu=np.zeros((5, 6), np.float32), evil=np.array([_Marker()], dtype=object))
    files = entries_of(tiny) | {"atlas.npz": arrays.getvalue()}               # an object array in the atlas
    refused(make_zip(tmp_path / "atlas.zip", files), "^atlas.zip: atlas.npz is not an atlas of plain arrays",
            tmp_path)
    assert not marker.exists()


def test_an_oversized_entry_is_refused_from_its_header(tiny, tmp_path):
    files = entries_of(tiny) | {"metrics.json": json.dumps({"x": "y" * (3 * 2**19)}).encode()}
    refused(make_zip(tmp_path / "big.zip", files), r"^big.zip: metrics.json unpacks to 1.5 MB; at most 1 MB$",
            tmp_path)


def test_a_bomb_like_entry_is_refused_from_its_header(tiny, tmp_path):
    files = entries_of(tiny) | {"model.safetensors": bytes(4 * 2**20)}
    refused(make_zip(tmp_path / "bomb.zip", files, zipfile.ZIP_DEFLATED),
            r"^bomb.zip: model.safetensors is compressed [\d,]+ to 1 \(a zip bomb\?\); refused$", tmp_path)
    with open(tmp_path / "huge.zip", "wb") as f:
        f.truncate(150 * 2**20)                                     # sparse: no disk used
    refused(tmp_path / "huge.zip", r"^huge.zip is 150 MB; a model zip is at most 99 MB$", tmp_path)


def test_corrupt_safetensors_is_refused_and_nothing_is_left(tiny, tmp_path):
    files = entries_of(tiny)
    files["model.safetensors"] = files["model.safetensors"][:-100]
    refused(make_zip(tmp_path / "cut.zip", files), "^cut.zip: model.safetensors is corrupt or truncated", tmp_path)


def test_tensors_that_do_not_match_the_config_are_refused(tiny, tmp_path):
    files = entries_of(tiny)
    other = json.loads(files["config.json"]) | {"latent_dim": 7}
    msg = refused(make_zip(tmp_path / "mismatch.zip", files | {"config.json": json.dumps(other).encode()}),
                  "^mismatch.zip: model.safetensors does not match config.json", tmp_path)
    assert "shape" in msg
    # a config describing a huge network is compared on the meta device, never allocated
    huge = json.loads(files["config.json"]) | {"widths": [4096, 4096], "hidden": 65536}
    refused(make_zip(tmp_path / "huge.zip", files | {"config.json": json.dumps(huge).encode()}),
            "does not match config.json", tmp_path)
    big_pictures = json.loads(files["config.json"]) | {"image_size": 4096}
    refused(make_zip(tmp_path / "wide.zip", files | {"config.json": json.dumps(big_pictures).encode()}),
            "^wide.zip: config.json asks for 4096x4096 pictures; a model zip's are at most 256x256$", tmp_path)
    refused(make_zip(tmp_path / "junk.zip", files | {"config.json": b"[1, 2]"}),
            "^junk.zip: config.json is not a JSON object$", tmp_path)
    refused(make_zip(tmp_path / "bad.zip", files | {"config.json": b"{\"recon\": \"l7\"}"}),
            "^bad.zip: config.json is not a valid config", tmp_path)


def test_nan_weights_are_refused(tiny, tmp_path):
    vae = load_vae(tiny)
    state = {k: v.contiguous() for k, v in vae.state_dict().items()}
    state[next(k for k, v in state.items() if v.is_floating_point())].view(-1)[0] = float("nan")
    files = entries_of(tiny) | {"model.safetensors": save_safetensors(state)}
    refused(make_zip(tmp_path / "nan.zip", files), "^nan.zip: model.safetensors holds NaN or infinite values",
            tmp_path)


def test_missing_duplicate_linked_and_damaged_entries(tiny, tmp_path):
    files = entries_of(tiny)
    refused(make_zip(tmp_path / "half.zip", {"config.json": files["config.json"]}),
            "^half.zip lacks model.safetensors: a model zip needs config.json and model.safetensors$", tmp_path)
    twice = list(files.items()) + [("config.json", files["config.json"])]
    refused(make_zip(tmp_path / "twice.zip", twice), "^twice.zip holds config.json twice$", tmp_path)
    link = zipfile.ZipInfo("metrics.json")
    link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
    linked = {k: v for k, v in files.items() if k != "metrics.json"} | {"metrics.json": (link, b"/etc/passwd")}
    refused(make_zip(tmp_path / "link.zip", linked), "^link.zip: metrics.json is a symbolic link, not a file$",
            tmp_path)
    (tmp_path / "text.zip").write_bytes(b"not a zip" * 100)
    refused(tmp_path / "text.zip", r"^text.zip is not a readable zip file \(", tmp_path)
    data = bytearray(make_zip(tmp_path / "crc.zip", files).read_bytes())
    data[data.find(b"model.safetensors") + 200] ^= 0xFF                       # inside the stored tensors
    (tmp_path / "crc.zip").write_bytes(bytes(data))
    refused(tmp_path / "crc.zip", "^crc.zip: model.safetensors is damaged in the zip", tmp_path)


def test_an_atlas_that_does_not_fit_or_borrows_thumbnails_is_refused(tiny, tmp_path):
    def with_atlas(name, **arrays):
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return make_zip(tmp_path / name, entries_of(tiny) | {"atlas.npz": buf.getvalue()})

    refused(with_atlas("mu.zip", mu=np.zeros((5, 3), np.float32)),
            r"^mu.zip: atlas.npz holds means of shape \(5, 3\), not \(N, 6\)$", tmp_path)
    refused(with_atlas("thumbs.zip", thumbnails=np.zeros((5, 3, 28, 28), np.uint8)),
            "^thumbs.zip: atlas.npz holds thumbnails of shape", tmp_path)
    refused(with_atlas("shared.zip", mu=np.zeros((5, 6), np.float32), thumbnails_from=np.array("fashion-mnist")),
            "^shared.zip: atlas.npz borrows its thumbnails from another folder", tmp_path)
    refused(make_zip(tmp_path / "notnpz.zip", entries_of(tiny) | {"atlas.npz": b"garbage"}),
            "^notnpz.zip: atlas.npz is not an atlas of plain arrays", tmp_path)


def test_an_existing_destination_is_never_touched(tiny, tmp_path):
    mb.write_model_zip(tiny, tmp_path / "tiny.zip")
    (tmp_path / "models" / "taken").mkdir(parents=True)
    (tmp_path / "models" / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(WeightsError, match="^a model named 'taken' already exists: choose another name$"):
        mb.unpack_model(tmp_path / "tiny.zip", tmp_path / "models" / "taken")
    assert os.listdir(tmp_path / "models" / "taken") == ["keep.txt"]


def test_a_folder_that_fails_to_load_back_is_removed(tiny, tmp_path, monkeypatch):
    def broken(folder, *a):
        raise WeightsError(f"{folder / 'model.safetensors'}: corrupt or truncated safetensors file (disk)")

    monkeypatch.setattr(mb, "load_vae", broken)
    mb.write_model_zip(tiny, tmp_path / "tiny.zip")
    msg = refused(tmp_path / "tiny.zip", "^tiny.zip does not load as a model: model.safetensors: corrupt", tmp_path)
    assert ".unpacking" not in msg
