"""The page's handlers (ui/), called as plain methods: no server, no browser. Each panel's handlers
are methods over the model registry, so the page's behaviour is tested here in milliseconds."""
import base64
import io
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from model.serving import requests as ex
from model.serving.registry import ModelRegistry
from ui import text
from ui.about import AboutPanel
from ui.encode import EncodePanel
from ui.explore import MAX_SLIDERS, ExplorePanel
from ui.files import private_cache
from ui.interpolate import InterpolatePanel
from ui.manifold import ManifoldPanel
from ui.page import ModelSwitch
from ui.runtime import PageRuntime

ROOT = Path(__file__).resolve().parents[1]
TSHIRT = str(ROOT / "assets" / "examples" / "drawn-tshirt.png")
TROUSERS = str(ROOT / "assets" / "examples" / "drawn-trousers.png")


def px(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.int16)


def built(registry) -> tuple[ExplorePanel, EncodePanel, list, gr.Markdown]:
    """The explore, encode, manifold and about panels built in a page (not served): their handlers return
    {component: update} for the components build() made."""
    default = registry.get(registry.default())
    explore = ExplorePanel(registry, PageRuntime(registry))
    encode, others = EncodePanel(registry, explore), [ManifoldPanel(registry), AboutPanel(registry)]
    with gr.Blocks():
        model_dd, info = gr.Dropdown(registry.names(), value=default.name), gr.Markdown()
        explore.build(model_dd, default)
        encode.build(model_dd, default)
        for panel in others:
            panel.build(default)
    return explore, encode, others, info


@pytest.fixture(scope="module")
def page(registry):
    return built(registry)


@pytest.fixture(scope="module")
def explore(page):
    return page[0]


@pytest.fixture(scope="module")
def runtime(registry):
    return PageRuntime(registry)


def select(index) -> gr.SelectData:
    return gr.SelectData(None, {"index": index, "value": None})


# ---------------------------------------------------------------- words
def test_slider_labels_show_kl_and_mark_inactive_dimensions(registry):
    m = registry.get("fashion-mnist")
    for d in range(m.dim):
        assert text.slider_label(m, d) == (f"z{d} · KL {m.kl_per_dim[d]:.2f}" if m.active[d] else f"z{d} · inactive")
    assert 0 < m.active.sum() < m.dim                          # the shipped model has both kinds
    assert f"({int(m.active.sum())} active)" in text.describe(m)


def test_active_units_on_the_page_are_the_ones_evaluate_counted(registry):
    """One definition of "active": the page's count (from the atlas means) is metrics.json's."""
    for name in registry.names():
        m = registry.get(name)
        if m.kind == "gan":                                    # no encoder, no means, no active units
            assert "active" not in text.describe(m) and "active units" not in text.about_markdown(m)
            continue
        assert int(m.active.sum()) == m.metrics["active_units"], name
        assert f"| active units | {m.metrics['active_units']} / {m.dim} |" in text.about_markdown(m)


# ---------------------------------------------------------------- explore
def test_set_z_updates_every_slider_and_shows_only_the_models(registry, explore):
    m = registry.get("fashion-mnist-2d")
    out = explore.set_z(m.name, [1.25, -9.0])                 # -9 is clamped to the slider range
    assert set(out) == {explore.sliders, explore.live, explore.map}
    shown, value, marker = out[explore.sliders], out[explore.live], out[explore.map]
    assert value["z"] == [1.25, -4.0] and [s["value"] for s in shown["sliders"]] == value["z"]
    assert value["model"] == m.name and value["dims"] == [0, 1] and value["shape"] == [1, 28, 28]
    assert len(shown["sliders"]) == 2 and shown["model"] == m.name      # one slider per dimension, no more
    assert shown["limit"] == m.latent_limit and [s["label"] for s in shown["sliders"]] == [
        text.slider_label(m, d) for d in value["dims"]]
    assert marker["markers"]["slider"] == ex.place(m, value["z"])
    again = explore.set_z(m.name, [1.25, -9.0])
    assert again[explore.live]["seq"] != value["seq"]         # the same z twice still repaints
    assert again[explore.sliders]["seq"] != shown["seq"]      # ... and moves the sliders back
    assert value["rules"]["traversal"] == pytest.approx(np.linspace(-3, 3, 9))     # the page's traversal, from here


def test_the_fallback_decoder_is_the_servers_decode(registry, runtime):
    m = registry.get("fashion-mnist")
    zs = [[0.0] * m.dim, [0.5 * (-1) ** d for d in range(m.dim)]]
    r = runtime.decode_pixels([m.name, zs])
    assert r["shape"] == [2, 1, 28, 28]
    pixels = np.frombuffer(base64.b64decode(r["data"]), dtype=np.uint8).reshape(r["shape"])
    for z, p in zip(zs, pixels, strict=True):
        assert np.array_equal(px(ex.decode(m, z))[::10, ::10], p[0])   # the /decode image, 10x upscaled
    for bad, message in (([m.name, []], "send 1 to 64"), ([m.name, [[0.0] * 3]], "z has 3 values"),
                         (["../etc", zs], "unknown model"), ("nope", "send \\[model")):
        with pytest.raises(ex.ExplorerError, match=message):
            runtime.decode_pixels(bad)


def test_the_page_gets_the_atlas_and_the_numbers_of_the_servers_rule(registry, runtime):
    """atlas_means hands the page exactly what MapIndex.place uses (tests/test_parity.py runs the page's rule)."""
    m = registry.get("fashion-mnist")
    a = runtime.atlas_means(m.name)
    means = np.frombuffer(base64.b64decode(a["means"]), dtype="<f4").reshape(a["n"], a["dim"])
    xy = np.frombuffer(base64.b64decode(a["xy"]), dtype="<f4").reshape(a["n"], 2)
    assert np.array_equal(means, m.map_index.means) and np.array_equal(xy, m.map_index.xy)
    assert (a["k"], a["eps"], a["method"]) == (m.map_index.k, m.map_index.eps, "umap")
    plane = runtime.atlas_means("fashion-mnist-2d")
    assert {k: plane[k] for k in ("method", "k", "eps", "n")} == {"method": "plane", "k": 8, "eps": 1e-6, "n": 10000}
    assert "xy" not in plane                                        # on the plane, z is the map position


def test_the_page_names_the_nearest_class_from_the_atlas(registry, runtime):
    """atlas_means also sends every test mean's class (for the decoded image's text alternative)."""
    for name in ("fashion-mnist", "fashion-mnist-2d"):
        m, a = registry.get(name), runtime.atlas_means(name)
        labels = np.frombuffer(base64.b64decode(a["labels"]), dtype=np.uint8)
        assert labels.tolist() == m.atlas["labels"].tolist() and a["classes"] == m.class_names
        means = np.frombuffer(base64.b64decode(a["means"]), dtype="<f4").reshape(a["n"], a["dim"])
        assert np.array_equal(means, m.atlas["mu"].astype("<f4"))


def test_the_decoder_is_exported_once_into_the_cache(registry, runtime, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path))
    url = runtime.decoder_url("fashion-mnist")
    path = Path(url.removeprefix("/gradio_api/file="))
    assert path.is_file() and tmp_path in path.parents and path.name == "decoder.onnx"
    stamp = path.stat().st_mtime_ns
    assert runtime.decoder_url("fashion-mnist") == url and path.stat().st_mtime_ns == stamp   # not exported again


def test_a_wide_model_shows_its_top_kl_dimensions_and_keeps_the_others(wide_weights):
    registry = ModelRegistry(wide_weights)
    m = registry.get("wide-40d")
    panel = built(registry)[0]
    dims = m.dims_by_kl(MAX_SLIDERS)
    assert len(dims) == MAX_SLIDERS == len(set(dims))
    assert all(m.kl_per_dim[a] >= m.kl_per_dim[b] for a, b in pairwise(dims))     # largest KL first
    hidden = sorted(set(range(m.dim)) - set(dims))
    assert min(m.kl_per_dim[dims]) >= max(m.kl_per_dim[hidden])      # the shown ones carry the most KL
    note = text.sliders_note(m, len(dims))
    assert f"Showing {MAX_SLIDERS} of 40 dimensions" in note
    assert panel.refresh(m.name)[panel.note]["value"] == note

    start = [0.1 * ((d % 7) - 3) for d in range(m.dim)]              # e.g. a mean sent from the map
    out = panel.set_z(m.name, start)
    shown = out[panel.sliders]["sliders"]
    assert [s["label"] for s in shown] == [text.slider_label(m, d) for d in dims]
    assert [s["value"] for s in shown] == pytest.approx([start[d] for d in dims], abs=1e-4)
    live = out[panel.live]
    assert live["dims"] == dims and live["z"] == pytest.approx(start, abs=1e-4)   # the page keeps all 40


def test_a_map_click_loads_that_test_mean(registry, explore):
    m = registry.get("fashion-mnist")
    out = explore.on_map_select(m.name, select(42))
    mu, _ = ex.pick(m, 42)
    assert out[explore.live]["z"] == pytest.approx(mu, abs=1e-4)
    with pytest.raises(gr.Error, match="index must be a whole number"):
        explore.on_map_select(m.name, select(10**9))


# ---------------------------------------------------------------- other panels
def test_resample_keeps_mu_and_sigma_and_moves_z(registry, page):
    explore, panel = page[0], page[1]
    m = registry.get("fashion-mnist")
    out = panel.on_upload(TSHIRT, m.name)
    info, state = out[panel.info], out[panel.state]
    assert out[explore.map]["markers"] == {"upload": info["map_xy"]}          # the diamond, and the star stays
    r = panel.resample(m.name, state, 7)
    new, eps = r[panel.state], r[panel.eps_text]
    assert new["mu"] == info["mu"] and new["sigma"] == info["sigma"] and new["z"] != info["z"]
    assert eps.startswith("ε = [")
    with pytest.raises(gr.Error, match="encode an image first"):
        panel.resample(m.name, {}, 1)
    assert panel.send_to_sliders(m.name, info)[explore.live]["z"] == pytest.approx(info["mu"], abs=1e-4)


def test_the_picker_shows_the_examples_and_test_images_and_a_pick_fills_the_upload(registry, page):
    from ui.encode import examples, picker_value, thumbnails
    panel, m = page[1], registry.get("fashion-mnist")
    shown = picker_value(m)
    assert [e["name"] for e in shown["examples"]] == [Path(p).stem.replace("-", " ") for p in examples()]
    assert [t["caption"] for t in shown["tests"]] == [c for _, c in thumbnails(m)]
    first = Image.open(io.BytesIO(base64.b64decode(shown["tests"][0]["src"].split(",", 1)[1])))
    assert first.size == (28, 28)                                           # the model's pixels, scaled up by the page
    assert panel.refresh(m.name) == {panel.picker: shown}

    def pick(kind, i):
        return panel.on_pick(m.name, gr.SelectData(None, {"value": kind, "index": i}))
    assert pick("example", 1) == examples()[1]
    picked = Image.open(pick("test", 3))
    assert np.array_equal(np.asarray(picked), np.asarray(Image.open(thumbnails(m)[3][0])))   # the gallery's file
    for kind, i in (("test", len(shown["tests"])), ("test", -1), ("example", "0"), ("other", 0)):
        with pytest.raises(gr.Error, match="no picture"):
            pick(kind, i)


def test_gif_holds_the_frames_there_and_back(registry):
    steps = 6
    frames, gif_path, _ = InterpolatePanel(registry).walk(TSHIRT, TROUSERS, steps, "linear", "fashion-mnist")
    with Image.open(gif_path) as gif:
        assert gif.format == "GIF" and gif.is_animated
        assert gif.info.get("loop") == 0                                # plays in a loop
        assert gif.n_frames == 2 * steps - 2                             # A -> B, then back without repeating ends
        for i in range(steps):
            gif.seek(i)
            assert gif.size == frames[i].size
            assert np.array_equal(px(gif.convert("L")), px(frames[i])), i
        gif.seek(steps)
        assert np.array_equal(px(gif.convert("L")), px(frames[steps - 2]))


def test_interpolate_shows_the_frames_and_hands_the_live_walk_both_means(registry):
    from ui.walk import WalkView

    panel = InterpolatePanel(registry, WalkView(PageRuntime(registry)))
    with gr.Blocks():
        panel.build(gr.Dropdown(registry.names(), value="fashion-mnist"))
    out = panel.on_interpolate(TSHIRT, TROUSERS, 6, "spherical", "fashion-mnist")
    assert set(out) == {panel.frames, panel.gif, panel.walk_view.html} and len(out[panel.frames]) == 6
    walk, m = out[panel.walk_view.html], registry.get("fashion-mnist")
    assert walk["a"] == pytest.approx(ex.encode(m, TSHIRT)["mu"], abs=1e-3)
    assert walk["b"] == pytest.approx(ex.encode(m, TROUSERS)["mu"], abs=1e-3)
    assert walk["rules"]["slerp"]["min_angle"] == 1e-4                # slerp's guard, for walk.js


def test_switching_model_refreshes_every_panel(registry, page):
    explore, encode, (manifold, about), info = page
    switch = ModelSwitch(registry, info, [explore, encode, manifold, about])
    assert len(switch.outputs) == 1 + 4 + 1 + 2 + 4           # explore: its sliders (one gr.HTML), live, map, note
    for name in registry.names():
        m = registry.get(name)
        out = switch.on_model(name)
        assert set(out) == set(switch.outputs)                       # every output updated, none unknown
        assert out[info] == text.describe(m)
        assert (out[manifold.image] is not None) == (m.dim == 2) and out[manifold.note]["visible"] == (m.dim != 2)
        assert out[explore.live]["model"] == name and len(out[explore.live]["z"]) == m.dim   # the traversal's range
        assert out[explore.sliders]["model"] == name
    with pytest.raises(gr.Error, match="unknown model"):
        switch.on_model("../../etc")


# ---------------------------------------------------------------- no hidden effects
@pytest.mark.slow
def test_importing_model_and_ui_has_no_side_effects(tmp_path):
    """Importing changes nothing outside the modules: no temp folder, Pillow's global pixel limit and
    the warnings filters untouched; and model/ imports neither gradio nor plotly."""
    code = """
import sys, warnings, tempfile, os
import numpy, torch, safetensors, tqdm, PIL.Image as Image       # the libraries first: their own filters
limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
import importlib, pkgutil, model
for info in pkgutil.walk_packages(model.__path__, 'model.'):
    if info.name != 'model.__main__':
        importlib.import_module(info.name)
assert "gradio" not in sys.modules and "plotly" not in sys.modules, "model/ imported the UI's packages"
assert Image.MAX_IMAGE_PIXELS == limit and warnings.filters == filters, "model/ changed global state"
import gradio, plotly
filters = list(warnings.filters)
import app, ui, ui.page
assert warnings.filters == filters, "ui/ changed the warnings filters"
print(sorted(os.listdir(tempfile.gettempdir())))
"""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "[]"                                   # nothing made in the temp folder


def test_the_private_cache_is_gradios_and_goes_away():
    before = os.environ.get("GRADIO_TEMP_DIR")
    with private_cache() as folder:
        assert os.environ["GRADIO_TEMP_DIR"] == str(folder) and folder.is_dir()
        assert gr.utils.get_upload_folder() == str(folder)
        (folder / "upload.png").write_bytes(b"x")
    assert not folder.exists() and os.environ.get("GRADIO_TEMP_DIR") == before
