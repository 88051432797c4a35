"""The sketch pad's server side: the encoder exported to ONNX beside the decoder (same parity test as the
decoder's), for every kind of bottleneck (a VAE's mu and logvar; an autoencoder's or a VQ-VAE's mu
alone), and the page's fallback encoder, which must refuse anything but the model's own pixels."""
import base64

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from model import explorer as ex
from model.checks import ExplorerError
from model.export import OPSET, cached_decoder, cached_encoder, encoder_outputs, export_encoder, weights_hash


def run_encoder(path, x: np.ndarray) -> dict:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"image": x})))


def images(m, n: int, seed: int = 0) -> np.ndarray:
    """n images the model could be shown: test thumbnails are not all the same size, so random
    strokes: uint8 pixels / 255, like the page sends."""
    c = m.config
    rng = np.random.default_rng(seed)
    x = (rng.random((n, c.channels, c.image_size, c.image_size)) > 0.7) * rng.integers(0, 256, (n, 1, 1, 1))
    return (x.astype(np.uint8) / np.float32(255)).astype(np.float32)


@pytest.mark.parametrize("name", ["fashion-mnist", "fashion-mnist-2d", "emoji"])
def test_onnx_encoder_matches_torch_on_64_images(registry, name, tmp_path):
    m = registry.get(name)
    path = export_encoder(m.vae, tmp_path / "encoder.onnx")
    assert onnx.load(str(path)).opset_import[0].version >= OPSET >= 17
    x = images(m, 64)
    ours = run_encoder(path, x)
    with torch.inference_mode():
        mu, logvar = m.vae.encode(torch.from_numpy(x))
    assert set(ours) == {"mu", "logvar"}
    assert np.abs(ours["mu"] - mu.numpy()).max() <= 1e-4
    assert np.abs(ours["logvar"] - logvar.numpy()).max() <= 1e-4
    assert run_encoder(path, x[:1])["mu"].shape == (1, m.dim)          # dynamic batch


@pytest.mark.parametrize("kind", ["vae", "ae", "vq"])
def test_each_kind_exports_what_its_encode_returns(tiny_kinds, kind, tmp_path):
    """An autoencoder's and a VQ-VAE's encoder has no variance: the graph outputs mu alone."""
    m = tiny_kinds.get(f"tiny-{kind}")
    path = export_encoder(m.vae, tmp_path / "encoder.onnx")
    x = images(m, 32, seed=1)
    ours = run_encoder(path, x)
    with torch.inference_mode():
        mu, logvar = m.vae.encode(torch.from_numpy(x))
    assert list(ours) == encoder_outputs(m.vae) == (["mu", "logvar"] if kind == "vae" else ["mu"])
    assert (logvar is None) == (kind != "vae")
    assert np.abs(ours["mu"] - mu.numpy()).max() <= 1e-4
    if kind == "vq":                                   # mu is a codebook entry per group, as in torch
        codes = m.vae.quantizer.codebook.detach().numpy()
        groups = ours["mu"].reshape(32, -1, m.config.code_dim)
        assert all(np.abs(codes - g).max(axis=1).min() <= 1e-5 for g in groups.reshape(-1, m.config.code_dim))


def test_the_encoder_is_cached_beside_the_decoder(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    m = registry.get("fashion-mnist-2d")
    enc, dec = cached_encoder(m.path, m.vae), cached_decoder(m.path, m.vae)
    assert enc.parent == dec.parent and enc.parent.name == weights_hash(m.path)[:32]
    assert enc.name == "encoder.onnx" and dec.name == "decoder.onnx"
    stamp = enc.stat().st_mtime_ns
    assert cached_encoder(m.path, m.vae) == enc and enc.stat().st_mtime_ns == stamp


def test_export_command_writes_both_halves(tmp_path, weights_root):
    from model.export import main

    assert main([str(weights_root / "fashion-mnist-2d"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "decoder.onnx").is_file() and (tmp_path / "encoder.onnx").is_file()


# ---------------------------------------------------------------- the page's fallback encoder
def b64(x: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(x, dtype=np.uint8).tobytes()).decode("ascii")


def test_encode_pixels_gives_what_encode_gives_for_the_same_pixels(registry, tmp_path):
    """The fallback (WebAssembly blocked) answers the posterior of the drawn pixels, as /encode does."""
    from PIL import Image

    from ui.sketch import SketchView

    m = registry.get("fashion-mnist")
    px = np.zeros((28, 28), np.uint8)
    px[6:22, 12:16] = 255
    view = SketchView(registry, explore=None)
    got = view.encode_pixels([m.name, b64(px)])
    Image.fromarray(px, "L").save(tmp_path / "drawn.png")
    want = ex.encode(m, str(tmp_path / "drawn.png"))
    np.testing.assert_allclose(got["mu"], want["mu"], atol=1e-3)
    np.testing.assert_allclose(got["logvar"], want["logvar"], atol=1e-3)


def test_encode_pixels_of_an_autoencoder_has_no_sigma(tiny_kinds):
    from ui.sketch import SketchView

    m = tiny_kinds.get("tiny-ae")
    got = SketchView(tiny_kinds, explore=None).encode_pixels([m.name, b64(np.zeros((1, 28, 28)))])
    assert len(got["mu"]) == m.dim and got["logvar"] is None


@pytest.mark.parametrize("bad", [None, "fashion-mnist", ["fashion-mnist"], ["nope", ""],
                                 ["fashion-mnist", "not base64!"], ["fashion-mnist", b64(np.zeros(27 * 28))],
                                 ["fashion-mnist", 12], ["fashion-mnist", "A" * 10_000_000]])
def test_encode_pixels_refuses_anything_else(registry, bad):
    from ui.sketch import SketchView

    with pytest.raises(ExplorerError):
        SketchView(registry, explore=None).encode_pixels(bad)


def test_the_sketch_value_tells_the_page_the_background_and_the_kind(registry, tiny_kinds):
    from ui.sketch import SketchView

    v = SketchView(registry, explore=None).value(registry.get("emoji"))
    assert v["background"] == "white" and v["shape"] == [3, 64, 64] and v["sigma"] is True
    v = SketchView(tiny_kinds, explore=None).value(tiny_kinds.get("tiny-vq"))
    assert v["background"] == "black" and v["shape"] == [1, 28, 28] and v["sigma"] is False
