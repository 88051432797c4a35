"""What crosses the network (ui/wire.py): float16 ONNX files that decode like torch, the cache and
encoding headers on the runtime and an ONNX file, revalidation for other files, a reload in Chromium that
fetches neither again, and the Draw tab's encoder fetched only when the tab opens, still encoding in the page."""
import gzip
import hashlib
import re

import brotli
import httpx
import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from model.nets.limits import ExplorerError
from model.store.onnx import export_decoder, export_encoder, has_encoder
from ui.server import ASSETS, ORT_DIR
from ui.wire import IMMUTABLE, REVALIDATE, accepted, etag_matches

WASM = ORT_DIR / "ort-wasm-simd-threaded.wasm"


# ---------------------------------------------------------------- float16 exports
def test_every_shipped_models_float16_decoder_decodes_like_torch(registry, exported):
    """Each shipped model's decoder stores its float16 weights as float16 (a Cast to float32 after each) and
    decodes 64 random z within 1e-4 of torch; its encoder (where it has one) encodes within 1e-4 too."""
    rng = np.random.default_rng(0)
    for name in registry.names():
        m = registry.get(name)
        path = exported(name, "decoder")
        graph = onnx.load(str(path))
        halves = [i for i in graph.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
        weights = sum(p.numel() for p in m.vae.decoder.parameters())
        assert sum(int(np.prod(i.dims)) for i in halves) >= 0.95 * weights, name      # the weights went as float16
        assert path.stat().st_size < 2.3 * weights, name                              # ~2 bytes a weight, not 4
        z = rng.standard_normal((64, m.dim)).astype(np.float32)
        ours = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"z": z})[0]
        with torch.inference_mode():
            want = m.vae.decode(torch.from_numpy(z)).numpy()
        assert np.abs(ours - want).max() <= 1e-4, name
        if has_encoder(m.vae):
            c = m.config
            x = rng.random((8, c.channels, c.image_size, c.image_size)).astype(np.float32)
            enc = exported(name, "encoder")
            mu = onnxruntime.InferenceSession(str(enc), providers=["CPUExecutionProvider"]).run(["mu"], {"image": x})[0]
            with torch.inference_mode():
                assert np.abs(mu - m.vae.encode(torch.from_numpy(x))[0].numpy()).max() <= 1e-4, name


def test_a_decoder_only_model_exports_its_decoder_and_no_encoder(registry, tmp_path):
    """A model with no encoder half (a GAN's generator, say) still gets its decoder; asking for its encoder is
    a clear refusal, in the export and in the page's runtime."""
    import copy

    from ui.runtime import PageRuntime

    m = registry.get("fashion-mnist-2d-vae")
    vae = copy.deepcopy(m.vae)
    vae.encoder = None
    assert not has_encoder(vae) and has_encoder(m.vae)
    assert export_decoder(vae, tmp_path / "decoder.onnx").is_file()
    with pytest.raises(ExplorerError, match="no encoder"):
        export_encoder(vae, tmp_path / "encoder.onnx")

    class OneModel:
        def get(self, name):
            return type("M", (), {"vae": vae, "path": m.path})()
    with pytest.raises(ExplorerError, match="no encoder"):
        PageRuntime(OneModel()).encoder_url("decoder-only")


# ---------------------------------------------------------------- headers
def test_accept_encoding_and_etags_are_read_as_browsers_send_them():
    assert accepted("gzip, deflate, br, zstd") == {"gzip", "deflate", "br", "zstd"}
    assert accepted("gzip;q=1.0, br;q=0") == {"gzip"} and accepted("") == set()
    assert etag_matches('"a", W/"b"', '"b"') and etag_matches("*", '"x"') and not etag_matches('"a"', '"b"')
    assert not etag_matches(None, '"a"') and not etag_matches('"a"', None)


def get(url: str, encoding: str = "br, gzip", **headers) -> httpx.Response:
    return httpx.get(url, headers={"Accept-Encoding": encoding, **headers}, timeout=60)


@pytest.mark.slow
def test_the_runtime_is_cached_for_good_and_sent_compressed(app_url):
    """The vendored runtime's URL names its version: cached for good, sent as its brotli copy to a browser that
    takes brotli, its gzip copy to one that takes gzip only (Chrome over plain HTTP to another machine), and as
    it is to one that takes neither; every way, the same bytes arrive."""
    url = f"{app_url}gradio_api/file={WASM}"
    want = hashlib.sha256(WASM.read_bytes()).hexdigest()
    for encoding, sent in (("gzip, deflate, br", "br"), ("gzip, deflate", "gzip"), ("identity", None)):
        r = get(url, encoding)
        assert r.status_code == 200, encoding
        assert r.headers["cache-control"] == IMMUTABLE
        assert r.headers["content-type"] == "application/wasm"
        assert r.headers.get("content-encoding") == sent
        assert hashlib.sha256(r.content).hexdigest() == want          # httpx decodes br and gzip
        if sent:
            assert int(r.headers["content-length"]) < WASM.stat().st_size / 3
            assert "accept-encoding" in r.headers["vary"].lower()
    raw = brotli.decompress(WASM.with_name(WASM.name + ".br").read_bytes())
    assert raw == WASM.read_bytes() == gzip.decompress(WASM.with_name(WASM.name + ".gz").read_bytes())


@pytest.mark.slow
def test_an_onnx_file_is_cached_for_good_and_sent_compressed(app_url, registry):
    from ui.runtime import PageRuntime

    url = PageRuntime(registry).decoder_url("fashion-mnist")        # the page's own question: exported, copied
    path = url.split("file=", 1)[1]
    r = get(app_url.rstrip("/") + url, "gzip, deflate, br")
    assert r.status_code == 200 and r.headers["cache-control"] == IMMUTABLE
    assert r.headers["content-encoding"] == "br"
    assert r.content == open(path, "rb").read()
    assert int(r.headers["content-length"]) < len(r.content)
    assert get(app_url.rstrip("/") + url, "gzip").headers["content-encoding"] == "gzip"


@pytest.mark.slow
def test_the_maps_data_is_a_file_named_by_its_content_cached_for_good(app_url, registry):
    """The atlas the page places z by and the map's points: server functions answer a URL whose name is the
    content's hash (ui/runtime.content_url), so the file is sent compressed and kept for good."""
    import json as json_

    from ui.explore import ExplorePanel
    from ui.runtime import PageRuntime

    runtime = PageRuntime(registry)
    url = runtime.atlas_means_url("fashion-mnist")
    assert url == runtime.atlas_means_url("fashion-mnist") != runtime.atlas_means_url("fashion-mnist-2d")
    r = get(app_url.rstrip("/") + url, "gzip, deflate, br")
    assert r.status_code == 200 and r.headers["cache-control"] == IMMUTABLE and r.headers["content-encoding"] == "br"
    assert json_.loads(r.content) == runtime.atlas_means("fashion-mnist")
    points = ExplorePanel(registry, runtime).map_points_url("fashion-mnist")
    assert "/data/points-" in points and json_.loads(get(app_url.rstrip("/") + points, "gzip").content)["model"] == (
        "fashion-mnist")


@pytest.mark.slow
def test_other_files_are_revalidated_and_the_page_and_its_data_go_compressed(app_url):
    """A page module is kept but asked for again each time: unchanged, it is answered 304 with no body. The
    page itself (HTML) is compressed."""
    url = f"{app_url}gradio_api/file={ASSETS / 'page.js'}"
    r = get(url)
    assert r.status_code == 200 and r.headers["cache-control"] == REVALIDATE and r.headers["etag"]
    again = get(url, **{"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == r.headers["etag"]
    page = get(app_url)
    assert page.status_code == 200 and page.headers["content-encoding"] == "br" and b"<html" in page.content.lower()
    assert get(app_url, "identity").headers.get("content-encoding") is None


# ---------------------------------------------------------------- in Chromium
RESOURCES = """() => performance.getEntriesByType('resource')
    .filter(e => /\\.(wasm|onnx)$|\\/onnx\\/data\\//.test(e.name))
    .map(e => ({name: e.name, transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize}))"""


def resources(page) -> list[dict]:
    """RESOURCES from the page and from its workers (ONNX Runtime's worker fetches the WebAssembly itself)."""
    return page.evaluate(RESOURCES) + [e for w in page.workers for e in w.evaluate(RESOURCES)]


DATA_FETCHED = ("() => performance.getEntriesByType('resource')"
                ".filter(e => /\\/onnx\\/data\\//.test(e.name)).length >= 2"
                " && performance.getEntriesByType('resource').some(e => /classifier\\.onnx$/.test(e.name))")


@pytest.mark.browser
def test_a_reload_fetches_neither_the_runtime_nor_the_model_again(open_page, app_url):
    """Nor the map's atlas and points: they come as files named by their content (ui/runtime.content_url)."""
    page = open_page(app_url)
    page.wait_for_function("() => VAE.state.backend === 'wasm'")
    page.wait_for_function(DATA_FETCHED)              # the map's points, the star's atlas, the words' classifier
    first = resources(page)
    assert {re.search(r"\.(wasm|onnx|json)$", e["name"]).group(1) for e in first} == {"wasm", "onnx", "json"}
    assert {re.search(r"/data/(\w+)-", e["name"]).group(1) for e in first if e["name"].endswith(".json")} == {
        "atlas", "points"}
    assert all(0 < e["encoded"] < e["decoded"] for e in first if e["name"].endswith(".wasm")), first   # compressed
    assert not any("encoder" in e["name"] for e in first)                 # the Draw tab is not open
    page.reload()
    page.wait_for_function("() => window.VAE && VAE.stats && VAE.stats.paints > 0 && VAE.state.backend === 'wasm'")
    page.wait_for_function(DATA_FETCHED)
    again = resources(page)
    assert {e["name"] for e in again} == {e["name"] for e in first}
    assert all(e["transfer"] == 0 for e in again), again                # from the browser's cache, not the wire
    assert page.problems == []


@pytest.mark.browser
def test_the_draw_tab_fetches_its_encoder_when_opened_and_encodes_in_the_page(open_page, app_url):
    """A cold load (a new browser context: nothing cached) fetches no encoder; opening Draw fetches it, and a
    stroke is encoded in the page, with no request to encode it."""
    from test_sketch import draw, open_draw_tab, settled, work_requests

    page = open_draw_tab(open_page, app_url)
    names = [e["name"] for e in resources(page)]
    assert sum("encoder.onnx" in n for n in names) == 1, names
    assert page.evaluate("VAE.sketch.backend") == "wasm"
    sent = len(page.requests)
    draw(page)
    state = settled(page)
    assert state["encodes"] > 1 and state["mu"] and all(np.isfinite(state["mu"]))
    assert work_requests(page, sent) == []
    assert page.problems == []
