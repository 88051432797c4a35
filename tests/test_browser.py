"""The page in a real browser: Playwright for Python driving Debian's Chromium (never `playwright
install`), as a visitor uses it: load, drag a slider, hover and click the map, upload an image,
interpolate. Each test opens its own page (a fresh browser context, conftest's `open_page`) and brings
it to the state it needs, so any one of them passes when run alone (`pytest -k NAME`); the app server
and the browser are shared. Takes a full-page screenshot into a temp folder (the README's picture is
made by `python tools/screenshot.py`).
"""
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
from conftest import CHROMIUM, server_requests

from model.serving import requests as ex
from model.store.weights import load_atlas
from ui.server import ORT_DIR as ORT_PATH

ROOT = Path(__file__).resolve().parents[1]
ORT_DIR = f"/gradio_api/file={ORT_PATH}/"
EXAMPLES = ROOT / "assets" / "examples"
WAIT = 90_000                      # ms; generous: the CPU is shared, and nothing here is timed
VIEWPORT = {"width": 1440, "height": 900}

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt install chromium)")]
pytest.importorskip("playwright.sync_api")

# page position of a map point (assets/map.js draws them on its canvas and says where): {x, y, index, label}
POINT_JS = "(i) => VAE.map.pointAt(i)"

# an isolated test point: no other shown point within `gap` px (the markers let clicks through)
ISOLATED_JS = "(gap) => VAE.map.isolated(gap)"


# the map's markers (divs over the plot): their map coordinates, and where they sit relative to the plot
MARKERS_JS = """() => {
  const out = {};
  for (const key of ['slider', 'upload']) {
    const el = document.querySelector('#latent-map .vae-marker-' + key);
    out[key] = el && el.dataset.x !== undefined ? [parseFloat(el.dataset.x), parseFloat(el.dataset.y)] : null;
  }
  return out;
}"""

# page position of the star's centre, and where the map's axes put its coordinates
STAR_PLACE_JS = """() => {
  const f = VAE.map.frame();
  const el = document.querySelector('#latent-map .vae-marker-slider'), m = el.getBoundingClientRect();
  const [px, py] = f.toPx(parseFloat(el.dataset.x), parseFloat(el.dataset.y));
  return {shown: getComputedStyle(el).display !== 'none',
          at: [m.left + m.width / 2, m.top + m.height / 2],
          expected: [f.box.left + f.l + px, f.box.top + f.t + py]};
}"""


# What the page shows: the model and the z it painted. The one place that says where the page keeps them
# (assets/live.js): every test reads them through page_state or wait_for_state.
STATE_JS = ("(() => { const s = window.VAE && VAE.state;"
            " return s && s.model && s.z ? {model: s.model, z: Array.from(s.z)} : null; })()")


def page_state(page) -> dict | None:
    """{model, z} of what the page last painted; None before its first paint."""
    return page.evaluate(STATE_JS)


def wait_for_state(page, test: str, arg=None) -> None:
    """Wait until the JS function test(state, arg) holds, state being page_state's {model, z}."""
    page.wait_for_function(f"(arg) => {{ const state = {STATE_JS}; return !!state && ({test})(state, arg); }}", arg=arg)


def wait_for_idle(page):
    """Gradio shows a progress tracker while an event runs; wait until none is pending."""
    page.wait_for_function("() => !document.querySelector('.progress-text, .eta-bar')", timeout=WAIT)


def open_app(open_page, app_url: str, model: str | None = None, tab: str | None = None, **options):
    """A fresh page (a browser context of its own: conftest's open_page, which records .problems and
    .requests) on the app, opened by a lesson link on `model` and `tab` (ids: encode, draw, interpolate...)
    when given; returned once the map is drawn, the decoder has painted that model and no event is pending."""
    query = {k: v for k, v in (("model", model), ("tab", tab)) if v is not None}
    page = open_page(app_url + ("?" + urlencode(query) if query else ""), **({"viewport": VIEWPORT} | options))
    page.wait_for_selector("#latent-map [data-ready='1'], #latent-map[data-ready='1']", state="attached")
    if model is not None:
        wait_for_state(page, "(s, m) => s.model === m", model)
    wait_for_idle(page)
    return page


def slider_values(page) -> list[float]:
    return page.eval_on_selector_all(".zslider input[type=number]",
                                     "els => els.filter(e => e.offsetParent).map(e => parseFloat(e.value))")


def paints(page) -> int:
    """How many times the page has painted the decoded image (assets/live.js)."""
    return page.evaluate("window.VAE && VAE.stats ? VAE.stats.paints : 0")


def wait_for_paint(page, after: int) -> None:
    page.wait_for_function("n => VAE.stats.paints > n", arg=after)


def canvas_pixels(page) -> np.ndarray:
    """The decoded image as painted: (H, W, 3) uint8 at the model's resolution."""
    data = page.evaluate("""() => { const c = document.querySelector('#live canvas.vae-decoded');
        return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]; }""")
    w, h, px = data
    return np.asarray(px, dtype=np.uint8).reshape(h, w, 4)[..., :3]


def api_requests(page, since: int) -> list[str]:
    return server_requests(page, since)


def upload_an_example(page, name: str = "drawn-tshirt.png") -> None:
    """On the "Encode" tab, upload one of assets/examples; returns once its reconstruction is shown."""
    page.get_by_role("tab", name="Encode").click()
    page.locator("#upload input[type=file]").set_input_files(str(EXAMPLES / name))
    page.wait_for_selector("#recon img")
    page.wait_for_function("() => /ELBO/.test(document.querySelector('#elbo-stats').innerText)")
    wait_for_idle(page)


def interpolate_the_examples(page) -> None:
    """On the Interpolate tab, the T-shirt to the trousers of assets/examples: returns once the frames and
    the GIF are shown."""
    page.get_by_role("tab", name="Interpolate").click()
    panel = page.get_by_role("tabpanel").filter(has=page.locator("#frames"))
    files = panel.locator("input[type=file]")
    files.nth(0).set_input_files(str(EXAMPLES / "drawn-tshirt.png"))
    files.nth(1).set_input_files(str(EXAMPLES / "drawn-trousers.png"))
    page.wait_for_function("() => document.querySelectorAll('[role=tabpanel] img').length >= 2")
    wait_for_idle(page)
    panel.get_by_role("button", name="Interpolate", exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('#frames img').length === 10")    # default 10 steps
    page.wait_for_selector("#gif img")
    wait_for_idle(page)


def test_page_loads_without_errors_and_from_this_server_only(open_page, app_url):
    page = open_app(open_page, app_url)
    assert page.title() == "VAE Latent Explorer"
    assert page.evaluate("typeof Plotly") == "undefined"              # the map draws itself: no plotly.js at load
    legend = page.locator("#latent-map .vae-map-legend button[aria-pressed=true]")
    assert legend.count() == 10 and legend.nth(1).inner_text() == "Trouser"     # ten classes, each shown
    assert len(slider_values(page)) == 16 and set(slider_values(page)) == {0.0}
    outside = [u for u in page.requests if not u.startswith((app_url, "data:", "blob:"))]
    assert outside == [], "the page must work offline"
    assert page.problems == []


def test_the_page_decodes_in_webassembly_and_says_so(open_page, app_url):
    page = open_app(open_page, app_url)
    assert page.evaluate("VAE.state.backend") == "wasm"
    assert page.inner_text("#live .vae-status").startswith("decoding in your browser (WebAssembly)")
    assert canvas_pixels(page).shape == (28, 28, 3)
    box = page.evaluate("(() => { const r = document.querySelector('#live canvas.vae-decoded')"
                        ".getBoundingClientRect(); return [r.width, r.height]; })()")
    assert box == [280, 280]                                            # shown 10x, crisp (image-rendering: pixelated)


def test_moving_a_slider_changes_the_decoded_image(open_page, app_url):
    page = open_app(open_page, app_url)
    before, n = canvas_pixels(page), paints(page)
    star = page.evaluate(MARKERS_JS)["slider"]
    assert star is not None                                             # the slider position is on the map
    sent = len(page.requests)
    rng = page.locator(".zslider input[type=range]").first
    rng.focus()
    rng.press("End")                                                    # z0 -> +4, an `input` event
    wait_for_paint(page, n)
    assert slider_values(page)[0] == 4.0
    assert not np.array_equal(canvas_pixels(page), before)
    page.wait_for_function(f"s => JSON.stringify(({MARKERS_JS})().slider) !== JSON.stringify(s)",
                           arg=star)                                # the star moved with the slider
    place = page.evaluate(STAR_PLACE_JS)
    assert place["shown"]                                               # ... and is drawn where the axes put it
    np.testing.assert_allclose(place["at"], place["expected"], atol=2.0)
    assert api_requests(page, sent) == []                               # decoded and placed in the page
    assert page.problems == []


def test_dragging_sends_no_request_and_paints_every_frame(open_page, app_url):
    page = open_app(open_page, app_url)
    rng = page.locator("#zslider-3 input[type=range]")
    box = rng.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 4, y)
    page.mouse.down()
    sent, n = len(page.requests), paints(page)
    for i in range(30):                                                 # a drag of 30 pointer moves
        page.mouse.move(box["x"] + 4 + i * (box["width"] - 8) / 29, y)
        page.wait_for_timeout(20)
    page.mouse.up()
    wait_for_paint(page, n + 10)
    assert api_requests(page, sent) == []
    assert slider_values(page)[3] == 4.0
    assert page.problems == []


def test_the_page_decodes_what_the_server_decodes(open_page, app_url, client, registry):
    """For each shipped model, the page's WebAssembly decoder and the server's /decode agree on the same
    z within 2/255 on at least 99.9% of the pixels."""
    from PIL import Image

    from model.store.onnx import cached_decoder

    page = open_app(open_page, app_url)
    rng = np.random.default_rng(5)
    for name in registry.names():
        m = registry.get(name)
        z = np.round(rng.standard_normal(m.dim), 3).tolist()
        url = f"/gradio_api/file={cached_decoder(m.path, m.vae)}"
        c = m.config
        ours = page_decode(page, url, z, (c.channels, c.image_size, c.image_size))
        with Image.open(client.predict(z=z, model=name, api_name="/decode")) as img:
            served = np.asarray(img.convert("RGB" if m.config.channels == 3 else "L"), dtype=np.int16)
        step = served.shape[0] // m.config.image_size
        served = served[::step, ::step].reshape(m.config.image_size, m.config.image_size, -1).transpose(2, 0, 1)
        diff = np.abs(np.round(ours * 255).astype(np.int16) - served)
        assert (diff <= 2).mean() >= 0.999, (name, diff.max())
    assert page.problems == []


def page_decode(page, url: str, z: list[float], shape: tuple[int, int, int]) -> np.ndarray:
    """z decoded by the page's own runtime (assets/runtime.js): (C, H, W) floats in [0, 1]."""
    data = page.evaluate("""async ([dir, url, z]) => {
        const dec = await VAE.runtime.decoder(dir, url);
        return Array.from(await VAE.runtime.decode(dec, Float32Array.from(z), 1, z.length)); }""", [ORT_DIR, url, z])
    return np.asarray(data, dtype=np.float64).reshape(shape)


def test_hovering_a_map_point_shows_its_card(open_page, app_url):
    page = open_app(open_page, app_url)
    i = page.evaluate(ISOLATED_JS, 8)
    pt = page.evaluate(POINT_JS, i)
    page.mouse.move(pt["x"], pt["y"])
    card = page.locator("#latent-map .vae-map-card")
    card.wait_for(state="visible")
    page.wait_for_function("() => document.querySelectorAll('#latent-map .vae-map-card img').length >= 1")
    assert f"#{pt['index']}" in card.inner_text()
    assert page.problems == []


# the map canvas's colour (r, g, b) at a page position
PIXEL_JS = """([x, y]) => {
  const c = document.querySelector('#latent-map .vae-map-canvas'), r = c.getBoundingClientRect();
  const d = c.width / r.width, px = Math.floor((x - scrollX - r.left) * d), py = Math.floor((y - scrollY - r.top) * d);
  return Array.from(c.getContext('2d').getImageData(px, py, 1, 1).data.slice(0, 3)); }"""
VIEW_JS = "(() => { const f = VAE.map.frame(); return [...f.toData(0, f.height), ...f.toData(f.width, 0)]; })()"
AREA_JS = "(() => { const f = VAE.map.frame(); return [f.box.left + f.l, f.box.top + f.t, f.width, f.height]; })()"
UNDER_JS = "([x, y]) => { const f = VAE.map.frame(); return f.toData(x - f.box.left - f.l, y - f.box.top - f.t); }"


def test_the_map_legend_hides_a_class_and_the_wheel_and_a_drag_move_the_view(open_page, app_url):
    """The map's own canvas: a legend button hides its class (not drawn, not answering the pointer) and shows it
    again; the wheel zooms about the pointer, a drag pans without decoding, the star stays on its coordinates, and
    a double click shows every point again."""
    page = open_app(open_page, app_url)
    i = page.evaluate(ISOLATED_JS, 14)                                  # beyond the pointer's 10 px
    pt = page.evaluate(POINT_JS, i)
    x, y = pt["x"] - page.evaluate("scrollX"), pt["y"] - page.evaluate("scrollY")
    drawn = page.evaluate(PIXEL_JS, [pt["x"], pt["y"]])
    button = page.locator("#latent-map .vae-map-legend button").nth(pt["label"])
    button.click()
    assert button.get_attribute("aria-pressed") == "false"
    page.wait_for_function(f"() => {POINT_JS}({i}) === null")
    page.wait_for_timeout(100)                                          # the next frame's repaint
    gone = page.evaluate(PIXEL_JS, [pt["x"], pt["y"]])
    assert gone != drawn and min(gone) >= 220, (drawn, gone)           # the plot's light background
    page.mouse.move(x, y)
    page.wait_for_timeout(500)
    assert not page.is_visible("#latent-map .vae-map-card")            # a hidden point has no card
    button.click()
    page.wait_for_function(f"() => {POINT_JS}({i}) !== null")
    page.wait_for_timeout(100)
    assert page.evaluate(PIXEL_JS, [pt["x"], pt["y"]]) == drawn

    home = page.evaluate(VIEW_JS)
    f = page.evaluate(AREA_JS)
    cx, cy = round(f[0] + f[2] / 2), round(f[1] + f[3] / 2)
    under = page.evaluate(UNDER_JS, [cx, cy])
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -300)                                           # zoom in
    page.wait_for_function(f"h => {VIEW_JS}[2] - {VIEW_JS}[0] < 0.8 * (h[2] - h[0])", arg=home)
    still = page.evaluate(UNDER_JS, [cx, cy])
    np.testing.assert_allclose(still, under, atol=1e-6 * (home[2] - home[0]) + 1e-9)    # about the pointer
    z0, n = page_state(page)["z"], paints(page)
    zoomed = page.evaluate(VIEW_JS)
    page.mouse.down()
    page.mouse.move(cx + 50, cy, steps=5)
    page.mouse.move(cx + 100, cy, steps=5)
    page.mouse.up()
    page.wait_for_function(f"z => {VIEW_JS}[0] < z[0]", arg=zoomed)    # dragged right: the view moved left
    panned = page.evaluate(VIEW_JS)
    px_per_unit = f[2] / (zoomed[2] - zoomed[0])
    assert abs((zoomed[0] - panned[0]) * px_per_unit - 100) < 2
    place = page.evaluate(STAR_PLACE_JS)
    if place["shown"]:
        np.testing.assert_allclose(place["at"], place["expected"], atol=1.5)
    page.wait_for_timeout(300)
    assert paints(page) == n and page_state(page)["z"] == z0            # a drag is not a click: nothing decoded
    page.mouse.dblclick(cx, cy)
    page.wait_for_function(f"h => {VIEW_JS}.every((v, k) => Math.abs(v - h[k]) < 1e-9)", arg=home)
    assert page.problems == []


def test_clicking_a_map_point_loads_its_mean_into_the_sliders(open_page, app_url, weights_root):
    page = open_app(open_page, app_url)
    before, n = slider_values(page), paints(page)
    i = page.evaluate(ISOLATED_JS, 8)
    pt = page.evaluate(POINT_JS, i)
    page.mouse.click(pt["x"], pt["y"])
    wait_for_idle(page)
    wait_for_paint(page, n)
    after = slider_values(page)
    assert after != before
    mu = load_atlas(weights_root / "fashion-mnist")["mu"][pt["index"]]
    np.testing.assert_allclose(after, np.clip(mu, -4, 4), atol=0.051)  # the clicked point's mean, in the sliders
    assert page.problems == []


def test_uploading_an_image_shows_its_reconstruction(open_page, app_url):
    page = open_app(open_page, app_url)
    upload_an_example(page)                     # waits for the reconstruction and the ELBO line
    size = page.evaluate("(() => { const i = document.querySelector('#recon img');"
                         " return [i.naturalWidth, i.naturalHeight]; })()")
    assert size == [280, 280]
    # the posterior chart (a second Plotly graph) is drawn
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"
                           ".some(g => /Encoder output/.test(g.textContent))")
    # the upload lands on the map, and the slider's star stays there too
    page.wait_for_function(f"() => ({MARKERS_JS})().upload !== null")
    assert page.evaluate(MARKERS_JS)["slider"] is not None
    assert page.is_visible("#latent-map .vae-marker-upload")
    assert page.problems == []


def test_picking_a_test_set_image_encodes_it(open_page, app_url):
    page = open_app(open_page, app_url)
    src = page.evaluate("() => { const i = document.querySelector('#recon img'); return i ? i.src : null; }")
    page.locator("#test-gallery .thumbnail-item").nth(2).click()
    page.wait_for_function("s => { const i = document.querySelector('#recon img'); return !!i && i.src !== s; }",
                           arg=src)
    wait_for_idle(page)
    assert page.problems == []


def test_map_markers_still_follow_the_sliders_after_an_upload(open_page, app_url):
    """Both markers stay, and the star keeps moving after the page's gr.Plot charts have loaded
    Gradio's own plotly.js (the map must keep using the one it was drawn with)."""
    page = open_app(open_page, app_url)
    upload_an_example(page)
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"       # a gr.Plot chart
                           ".some(g => /Encoder output/.test(g.textContent))")
    page.wait_for_function(f"() => ({MARKERS_JS})().upload !== null")
    markers = f"({MARKERS_JS})()"
    star, diamond = page.evaluate(markers).values()
    n = paints(page)
    rng = page.locator(".zslider input[type=range]").nth(1)
    rng.focus()
    rng.press("Home")                                                   # z1 -> -4
    wait_for_paint(page, n)
    page.wait_for_function(f"s => JSON.stringify({markers}.slider) !== JSON.stringify(s)", arg=star)
    star2, diamond2 = page.evaluate(markers).values()
    assert star2 != star and diamond2 == diamond and len(diamond2) == 2
    wait_for_idle(page)
    assert page.problems == []


def test_without_webassembly_the_server_decodes_and_the_page_says_so(open_page, app_url, m):
    """The wasm file blocked: one line names the fallback, and sliders still decode (on the server)."""
    page = open_page("about:blank", wait_decoder=False, viewport=VIEWPORT)
    page.route("**/*.wasm", lambda route: route.abort())           # before the app loads: nothing cached
    page.goto(app_url)
    page.wait_for_function("() => window.VAE && VAE.stats && VAE.state.backend === 'server'")
    assert page.evaluate("VAE.stats.paints") > 0
    assert page.inner_text("#live .vae-status").startswith("decoding on the server")
    n = paints(page)
    rng = page.locator("#zslider-0 input[type=range]")
    rng.focus()
    rng.press("End")
    wait_for_paint(page, n)
    wait_for_state(page, "s => s.z[0] === 4")                          # the new z's image, not an earlier one
    z = page_state(page)["z"]
    assert z[0] == 4.0
    painted = canvas_pixels(page)[..., 0]
    assert np.array_equal(painted, np.asarray(ex.decode(m, z), dtype=np.uint8)[::10, ::10])
    blocked = ("Failed to load resource", "wasm", "ArrayBuffer instantiation")   # the runtime reporting the block
    errors = [p for p in page.problems if not (p.startswith("console: ") and any(b in p for b in blocked))]
    assert errors == []


def test_screenshot(open_page, app_url, tmp_path):
    page = open_app(open_page, app_url)
    page.evaluate("window.scrollTo(0, 0)")
    out = tmp_path / "vae-explorer-screenshot.png"
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 20_000
    assert page.problems == []


def test_interpolate_tab_shows_frames_and_a_gif(open_page, app_url):
    page = open_app(open_page, app_url)
    interpolate_the_examples(page)              # waits for the 10 frames and the GIF
    srcs = page.eval_on_selector_all("#frames img", "els => els.map(e => e.src)")
    assert len(set(srcs)) > 1
    assert page.problems == []


def walk_canvas(page, which: str) -> np.ndarray:
    w, h, px = page.evaluate("""(which) => { const c = document.querySelector('#walk canvas.vae-walk-' + which);
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        return [c.width, c.height, Array.from(data)]; }""", which)
    return np.asarray(px, dtype=np.int16).reshape(h, w, 4)[..., 0]


def set_walk_t(page, t: float) -> None:
    n = int(page.get_attribute("#walk .vae-walk", "data-paints") or 0)
    page.evaluate("""(t) => { const r = document.querySelector('#walk .vae-walk-t');
        r.value = String(Math.round(t * 1000)); r.dispatchEvent(new Event('input', {bubbles: true})); }""", t)
    page.wait_for_function("([n, t]) => { const w = document.querySelector('#walk .vae-walk');"
                           " return +w.dataset.paints > n && +w.dataset.t === t; }", arg=[n, t])


def test_the_walk_scrubber_decodes_the_two_means_at_its_ends(open_page, app_url, client, m):
    """After Interpolate, t = 0 and t = 1 decode the two images' means, in the page; both paths are
    drawn on the map, and Play moves t."""
    from gradio_client import handle_file

    page = open_app(open_page, app_url)
    interpolate_the_examples(page)
    page.wait_for_function("() => +document.querySelector('#walk .vae-walk').dataset.paints > 0")
    sent = len(page.requests)
    for t, image in ((0.0, "drawn-tshirt.png"), (1.0, "drawn-trousers.png")):
        set_walk_t(page, t)
        _, info = client.predict(image=handle_file(str(EXAMPLES / image)), model=m.name, api_name="/encode")
        want = np.asarray(ex.decode(m, info["mu"]), dtype=np.int16)[::10, ::10]
        for which in ("linear", "spherical"):                          # both paths start and end at the means
            assert (np.abs(walk_canvas(page, which) - want) <= 2).mean() >= 0.999, (t, which)
    set_walk_t(page, 0.5)
    assert not np.array_equal(walk_canvas(page, "linear"), walk_canvas(page, "spherical"))
    assert api_requests(page, sent) == []                               # the walk decodes in the page
    assert page.locator("#latent-map .vae-map-path polyline").count() == 2
    page.locator("#walk .vae-walk-play").click()
    page.wait_for_function("() => +document.querySelector('#walk .vae-walk').dataset.t !== 0.5")
    page.locator("#walk .vae-walk-play").click()                        # pause
    assert page.inner_text("#walk .vae-walk-play") == "Play"
    assert page.problems == []


def test_scrubbing_the_2d_plane_decodes_the_z_under_the_pointer(open_page, app_url, m2d):
    """Kingma & Welling's Figure 4, continuous: on the 2-D model, with the toggle on, the pointer's
    position on the map is z, and the page paints decoder(z)."""
    page = open_app(open_page, app_url, model="fashion-mnist-2d")      # a lesson link opens the 2-D model
    page.evaluate("window.scrollTo(0, 0)")
    wait_for_state(page, "s => s.model === 'fashion-mnist-2d'")
    page.wait_for_function("() => VAE.state.backend === 'wasm'")
    wait_for_idle(page)
    toggle = page.locator("#latent-map .vae-map-scrub input")
    toggle.wait_for(state="visible")                                    # shown once the plane is drawn
    toggle.check()
    page.wait_for_timeout(500)                                          # the map's relayout settles
    f = page.evaluate("(() => { const f = VAE.map.frame(); return {x: f.box.left + f.l, y: f.box.top + f.t,"
                      " width: f.width, height: f.height}; })()")
    x, y = round(f["x"] + f["width"] * 0.62), round(f["y"] + f["height"] * 0.38)   # whole pixels, as events
    page.mouse.move(x - 20, y)
    n = paints(page)
    page.mouse.move(x, y)
    page.wait_for_function("n => VAE.stats.paints > n", arg=n)
    page.wait_for_timeout(300)
    expected = page.evaluate("""([x, y]) => { const f = VAE.map.frame();
        return f.toData(x - f.box.left - f.l, y - f.box.top - f.t); }""", [x, y])
    z = page_state(page)["z"]
    np.testing.assert_allclose(z, np.clip(expected, -4, 4), atol=1e-3)
    painted = canvas_pixels(page)[..., 0].astype(np.int16)
    served = np.asarray(ex.decode(m2d, z), dtype=np.int16)[::10, ::10]
    assert (np.abs(painted - served) <= 2).mean() >= 0.999
    assert page.problems == []


def test_compare_tab_shows_three_models_side_by_side_and_plays_the_training(open_page, app_url):
    """The default trio (autoencoder, VAE, beta-VAE) on two test images: reconstructions,
    samples, clouds and the training snapshots with a slider that Play moves."""
    page = open_app(open_page, app_url)
    page.get_by_role("tab", name="Compare: why a VAE").click()
    page.locator("#compare-pair").click()
    page.wait_for_selector("#compare-a img", state="visible")
    wait_for_idle(page)
    page.locator("#compare-button").click()
    page.wait_for_function("() => document.querySelectorAll('#compare-recon img').length === 4")   # input + 3
    page.wait_for_function("() => document.querySelectorAll('#compare-samples img').length === 3")
    page.locator("#compare-walks").scroll_into_view_if_needed()      # its <img> loads lazily
    page.wait_for_selector("#compare-walks img")
    page.wait_for_function("() => document.querySelector('#compare-numbers').innerText.includes('beta4')")
    table = page.locator("#compare-numbers").inner_text()
    assert all(n in table for n in ("fashion-mnist-2d-ae", "fashion-mnist-2d-vae", "fashion-mnist-2d-beta4"))
    assert "plain autoencoder" in table and "none" in table        # the autoencoder has no KL
    titles = page.eval_on_selector("#compare-clouds .js-plotly-plot",
                                   "gd => gd.layout.annotations.map(a => a.text)")
    assert titles == ["fashion-mnist-2d-ae", "fashion-mnist-2d-vae", "fashion-mnist-2d-beta4"]
    active = "gd => gd._fullLayout.sliders[0].active"
    organise = "#compare-organise .js-plotly-plot"
    page.wait_for_selector(organise)
    last = page.eval_on_selector(organise, active)
    assert last > 20                                               # starts at the end of training
    first_x = "gd => gd._fullData[0].x[0]"
    shown = page.eval_on_selector(organise, first_x)
    assert isinstance(shown, float)
    page.locator(f"{organise} .updatemenu-button").first.click()    # ▶ Play: replays from the start
    page.wait_for_function(f"x => ({first_x})(document.querySelector('{organise}')) !== x", arg=shown)
    assert page.problems == []
