"""The sketch pad's server side: the encoder exported to ONNX beside the decoder (same parity test as the
decoder's), for every kind of bottleneck (a VAE's mu and logvar; an autoencoder's or a VQ-VAE's mu
alone), and the page's fallback encoder, which must refuse anything but the model's own pixels."""
import base64
from itertools import pairwise

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from conftest import WEIGHTS

from model.nets.limits import ExplorerError
from model.serving import requests as ex
from model.store.onnx import OPSET, cached_decoder, cached_encoder, encoder_outputs, export_encoder, export_key


def run_encoder(path, x: np.ndarray) -> dict:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"image": x}), strict=True))


def images(m, n: int, seed: int = 0) -> np.ndarray:
    """n images the model could be shown: test thumbnails are not all the same size, so random
    strokes: uint8 pixels / 255, like the page sends."""
    c = m.config
    rng = np.random.default_rng(seed)
    x = (rng.random((n, c.channels, c.image_size, c.image_size)) > 0.7) * rng.integers(0, 256, (n, 1, 1, 1))
    return (x.astype(np.uint8) / np.float32(255)).astype(np.float32)


SHIPPED = sorted(p.name for p in WEIGHTS.iterdir() if (p / "config.json").is_file()
                 and '"gan"' not in (p / "config.json").read_text()) if WEIGHTS.is_dir() else []   # a GAN: no encoder


@pytest.mark.parametrize("name", SHIPPED)
def test_onnx_encoder_matches_torch_on_64_images(registry, name, exported):
    """Every shipped model, whatever its kind (an autoencoder's graph has no logvar)."""
    m = registry.get(name)
    path = exported(name, "encoder")
    assert onnx.load(str(path)).opset_import[0].version >= OPSET >= 17
    x = images(m, 64)
    ours = run_encoder(path, x)
    with torch.inference_mode():
        mu, logvar = m.vae.encode(torch.from_numpy(x))
    assert list(ours) == (["mu"] if logvar is None else ["mu", "logvar"])
    assert np.abs(ours["mu"] - mu.numpy()).max() <= 1e-4
    if logvar is not None:
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
    assert enc.parent == dec.parent and enc.parent.name == export_key(m.path)
    assert enc.name == "encoder.onnx" and dec.name == "decoder.onnx"
    stamp = enc.stat().st_mtime_ns
    assert cached_encoder(m.path, m.vae) == enc and enc.stat().st_mtime_ns == stamp


def test_a_pages_first_visit_exports_decoder_and_encoder_at_once(tiny_kinds, tmp_path, monkeypatch):
    """The page asks for a model's decoder (live image, sketch) and encoder at the same moment, in
    server threads; torch.onnx.export cannot run twice at once, so the cache exports one at a time."""
    import threading

    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    errors, paths = [], []

    def ask(fn, m):
        try:
            paths.append(fn(m.path, m.vae))
        except Exception as e:                          # noqa: BLE001 - any failure is the test's finding
            errors.append(repr(e))
    threads = [threading.Thread(target=ask, args=(fn, tiny_kinds.get(name)))
               for name in tiny_kinds.names() for fn in (cached_decoder, cached_encoder, cached_decoder)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(paths)) == 2 * len(tiny_kinds.names())
    assert all(onnx.load(str(p)) for p in set(paths))


def test_export_command_writes_both_halves(tmp_path, weights_root):
    from model.store.onnx import main

    assert main([str(weights_root / "fashion-mnist-2d"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "decoder.onnx").is_file() and (tmp_path / "encoder.onnx").is_file()


# ---------------------------------------------------------------- the page's fallback encoder
def b64(x: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(x, dtype=np.uint8).tobytes()).decode("ascii")


def test_encode_pixels_gives_what_encode_gives_for_the_same_pixels(registry, tmp_path):
    """The fallback (WebAssembly blocked) answers the posterior of the drawn pixels, as /encode does."""
    from PIL import Image

    from ui.runtime import PageRuntime

    m = registry.get("fashion-mnist")
    px = np.zeros((28, 28), np.uint8)
    px[6:22, 12:16] = 255
    got = PageRuntime(registry).encode_pixels([m.name, b64(px)])
    Image.fromarray(px, "L").save(tmp_path / "drawn.png")
    want = ex.encode(m, str(tmp_path / "drawn.png"))
    np.testing.assert_allclose(got["mu"], want["mu"], atol=1e-3)
    np.testing.assert_allclose(got["logvar"], want["logvar"], atol=1e-3)


def test_encode_pixels_of_an_autoencoder_has_no_sigma(tiny_kinds):
    from ui.runtime import PageRuntime

    m = tiny_kinds.get("tiny-ae")
    got = PageRuntime(tiny_kinds).encode_pixels([m.name, b64(np.zeros((1, 28, 28)))])
    assert len(got["mu"]) == m.dim and got["logvar"] is None


@pytest.mark.parametrize("bad", [None, "fashion-mnist", ["fashion-mnist"], ["nope", ""],
                                 ["fashion-mnist", "not base64!"], ["fashion-mnist", b64(np.zeros(27 * 28))],
                                 ["fashion-mnist", 12], ["fashion-mnist", "A" * 10_000_000]])
def test_encode_pixels_refuses_anything_else(registry, bad):
    from ui.runtime import PageRuntime

    with pytest.raises(ExplorerError):
        PageRuntime(registry).encode_pixels(bad)


def test_the_sketch_value_tells_the_page_the_background_and_the_kind(registry, tiny_kinds):
    from ui.runtime import PageRuntime
    from ui.sketch import SketchView

    v = SketchView(registry, PageRuntime(registry)).value(registry.get("emoji"))
    assert v["background"] == "white" and v["shape"] == [3, 64, 64] and v["sigma"] is True
    v = SketchView(tiny_kinds, PageRuntime(tiny_kinds)).value(tiny_kinds.get("tiny-vq"))
    assert v["background"] == "black" and v["shape"] == [1, 28, 28] and v["sigma"] is False


# ---------------------------------------------------------------- the pad in the browser
STROKE = [(0.5, 0.15), (0.55, 0.35), (0.4, 0.5), (0.6, 0.65), (0.45, 0.85)]       # a zig-zag, pad fractions


def open_draw_tab(open_page, url, **options):
    page = open_page(url, **options)
    page.get_by_role("tab", name="Draw").click()
    page.wait_for_function("() => VAE.sketch && VAE.sketch.backend !== 'loading' && VAE.sketch.encodes > 0")
    page.locator("#sketch .vae-sketch-pad").scroll_into_view_if_needed()
    return page


def draw(page, points=STROKE, steps: int = 6) -> None:
    """A mouse stroke through the points (fractions of the pad), a few pointer moves per segment."""
    box = page.locator("#sketch .vae-sketch-pad").bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for (x0, y0), (x1, y1) in pairwise(xy):
        for i in range(1, steps + 1):
            page.mouse.move(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
    page.mouse.up()


def work_requests(page, since: int) -> list[str]:
    """The server requests since `since`, but for the one the pad makes on purpose: how typical the drawing
    is (ui/sketch.py typicality_pixels, at most every 400 ms while it changes)."""
    from conftest import server_requests

    return [u for u in server_requests(page, since) if not u.endswith("#typicality_pixels")]


def settled(page) -> dict:
    """Wait until the pad's last ink is encoded (no frame pending), then its state."""
    page.wait_for_function("""() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() =>
        setTimeout(() => r(true), 200))))""")
    page.wait_for_function("n => VAE.sketch.encodes >= n", arg=1)
    return page.evaluate("""() => ({mu: VAE.state.sketch.mu, logvar: VAE.state.sketch.logvar,
        pixels: VAE.state.sketch.pixels,
        encodes: VAE.sketch.encodes, chart: document.querySelector('#sketch .vae-sketch-chart').dataset.mu,
        diamond: (el => el.dataset.x === undefined ? null : [+el.dataset.x, +el.dataset.y])(
            document.querySelector('#latent-map .vae-marker-upload')),
        cloud: document.querySelector('#latent-map .vae-map-cloud').dataset.points || null,
        mini: (el => el.dataset.x === undefined ? null : [+el.dataset.x, +el.dataset.y])(
            document.querySelector('#sketch .vae-sketch-map')),
        status: document.querySelector('#sketch .vae-sketch-status').textContent})""")


@pytest.mark.browser
def test_a_stroke_moves_the_posterior_and_the_diamond_with_no_request(open_page, app_url):
    page = open_draw_tab(open_page, app_url)
    before = settled(page)
    sent = len(page.requests)
    draw(page)
    after = settled(page)
    assert work_requests(page, sent) == []                          # encoded, decoded, placed in the page
    assert after["encodes"] > before["encodes"] + 1                 # several frames during one stroke
    assert after["chart"] != before["chart"] and sum(after["pixels"]) > sum(before["pixels"])
    assert after["diamond"] is not None and after["diamond"] != before["diamond"]
    assert int(after["cloud"]) >= 3                                 # the μ ± 2σ cloud is drawn around it
    assert after["mini"] == after["diamond"]                        # ... and on the small map beside the pad
    assert after["status"].startswith("encoded in your browser (WebAssembly)")
    assert page.problems == []


@pytest.mark.browser
def test_the_page_encodes_a_drawing_as_the_server_encodes_its_pixels(open_page, app_url, client, tmp_path):
    """The browser's μ (and log σ²) for the drawn pixels equal /encode of a PNG of the same pixels."""
    from gradio_client import handle_file
    from PIL import Image

    page = open_draw_tab(open_page, app_url)
    draw(page)
    got = settled(page)
    px = np.asarray(got["pixels"], dtype=np.uint8).reshape(28, 28)
    assert 0 < (px > 0).mean() < 0.5
    Image.fromarray(px, "L").save(tmp_path / "drawn.png")
    _, info = client.predict(image=handle_file(str(tmp_path / "drawn.png")), model="fashion-mnist", api_name="/encode")
    np.testing.assert_allclose(got["mu"], info["mu"], atol=1e-3)
    np.testing.assert_allclose(got["logvar"], info["logvar"], atol=1e-3)


@pytest.mark.browser
def test_send_mu_to_sliders_from_the_drawing_and_clear(open_page, app_url):
    page = open_draw_tab(open_page, app_url)
    draw(page)
    mu = settled(page)["mu"]
    sent, n = len(page.requests), page.evaluate("VAE.stats.paints")
    page.locator("#sketch .vae-sketch-send").click()
    page.wait_for_function("n => VAE.stats.paints > n", arg=n)
    np.testing.assert_allclose(page.evaluate("VAE.state.z"), np.clip(mu, -4, 4), atol=1e-5)
    shown = page.eval_on_selector_all(".zslider input[type=number]",
                                      "els => els.filter(e => e.offsetParent).map(e => parseFloat(e.value))")
    np.testing.assert_allclose(shown, np.clip(mu, -4, 4), atol=0.051)       # the sliders show it (step 0.05)
    page.locator("#sketch .vae-sketch-eraser").click()
    assert page.get_attribute("#sketch .vae-sketch-eraser", "aria-pressed") == "true"
    page.locator("#sketch .vae-sketch-clear").click()
    page.wait_for_function("() => VAE.state.sketch.pixels.every(v => v === 0)")
    assert work_requests(page, sent) == []
    assert page.problems == []


@pytest.mark.browser
@pytest.mark.parametrize("name", ["tiny-ae", "tiny-vq"])
def test_an_autoencoder_shows_mu_and_says_it_has_no_sigma(open_page, kinds_app, name):
    page = open_page(kinds_app[1] + f"?model={name}&tab=draw")          # a lesson link opens it
    page.wait_for_function("m => VAE.state.model === m && VAE.sketch && VAE.state.sketch.model === m"
                           " && VAE.sketch.backend === 'wasm' && VAE.sketch.encodes > 0", arg=name)
    page.locator("#sketch .vae-sketch-pad").scroll_into_view_if_needed()
    draw(page)
    got = settled(page)
    assert got["logvar"] is None and len(got["mu"]) == page.evaluate("VAE.state.z.length")
    assert "no σ" in got["status"]
    assert page.get_attribute("#sketch .vae-sketch-chart", "data-sigma") == ""
    assert got["cloud"] is None and got["diamond"] is not None              # a point: the diamond, no cloud
    assert page.problems == []


@pytest.mark.browser
def test_without_webassembly_the_server_encodes_the_drawing_and_says_so(open_page, app_url):
    page = open_page("about:blank", wait_decoder=False)
    page.route("**/*.wasm", lambda route: route.abort())           # before the app loads: nothing cached
    page.goto(app_url + "?tab=draw")
    try:
        page.wait_for_function(
            "() => window.VAE && VAE.sketch && VAE.sketch.backend === 'server' && VAE.sketch.encodes > 0")
    except Exception:                                   # say what the pad was doing
        pytest.fail("pad: " + page.evaluate("JSON.stringify([window.VAE && VAE.sketch && [VAE.sketch.backend, "
                    "VAE.sketch.encodes], (document.querySelector('#sketch .vae-sketch-status') || {}).textContent])")
                    + f"; problems: {page.problems}")
    page.locator("#sketch .vae-sketch-pad").scroll_into_view_if_needed()
    draw(page)
    got = settled(page)
    assert got["status"].startswith("encoded on the server") and sum(got["pixels"]) > 0
