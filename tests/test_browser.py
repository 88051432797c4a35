"""The page in a real browser: Playwright for Python driving Debian's Chromium (never `playwright
install`). One page is opened for the module and the tests walk through it in order, like a visitor:
load, drag a slider, hover and click the map, upload an image, interpolate. Takes a full-page
screenshot into a temp folder (the README's picture is made by `python tools/screenshot.py`).
"""
from pathlib import Path

import numpy as np
import pytest

from model.io import load_atlas

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
EXAMPLES = ROOT / "assets" / "examples"
WAIT = 90_000                      # ms; generous: the CPU is shared, and nothing here is timed

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt install chromium)")]
sync_api = pytest.importorskip("playwright.sync_api")

# pixel position (page coordinates) of a point of the Plotly graph inside #latent-map
POINT_JS = """([trace, i]) => {
  const gd = document.querySelector('#latent-map .js-plotly-plot');
  const L = gd._fullLayout, r = gd.getBoundingClientRect();
  const t = gd._fullData[trace];
  return {x: r.left + window.scrollX + L._size.l + L.xaxis.l2p(t.x[i]),
          y: r.top + window.scrollY + L._size.t + L.yaxis.l2p(t.y[i]), index: t.customdata[i]};
}"""

# an isolated test point: nearest other point (any trace) at least `gap` px away (the markers let clicks through)
ISOLATED_JS = """(gap) => {
  const gd = document.querySelector('#latent-map .js-plotly-plot');
  const L = gd._fullLayout;
  const all = [];
  gd._fullData.forEach((t, k) => t.x.forEach((x, i) => all.push([k, i, L.xaxis.l2p(x), L.yaxis.l2p(t.y[i])])));
  const nClass = gd._fullData.filter(t => t.type === 'scattergl').length;
  const inside = p => p[2] > 20 && p[2] < L._size.w - 20 && p[3] > 20 && p[3] < L._size.h - 20;
  for (const p of all) {
    if (p[0] >= nClass || !inside(p)) continue;
    let near = Infinity;
    for (const q of all) if (q !== p) near = Math.min(near, Math.hypot(p[2] - q[2], p[3] - q[3]));
    if (near >= gap) return [p[0], p[1]];
  }
  return null;
}"""


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
  const gd = document.querySelector('#latent-map .js-plotly-plot');
  const L = gd._fullLayout, r = gd.getBoundingClientRect();
  const el = document.querySelector('#latent-map .vae-marker-slider'), m = el.getBoundingClientRect();
  return {shown: getComputedStyle(el).display !== 'none',
          at: [m.left + m.width / 2, m.top + m.height / 2],
          expected: [r.left + L._size.l + L.xaxis.l2p(parseFloat(el.dataset.x)),
                     r.top + L._size.t + L.yaxis.l2p(parseFloat(el.dataset.y))]};
}"""


def wait_for_idle(page):
    """Gradio shows a progress tracker while an event runs; wait until none is pending."""
    page.wait_for_function("() => !document.querySelector('.progress-text, .eta-bar')", timeout=WAIT)


def slider_values(page) -> list[float]:
    return page.eval_on_selector_all(".zslider input[type=number]",
                                     "els => els.filter(e => e.offsetParent).map(e => parseFloat(e.value))")


def decoded_src(page) -> str:
    return page.get_attribute("#decoded img", "src") or ""


@pytest.fixture(scope="module")
def browser_page(app_url):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(WAIT)
        page.problems = []
        page.requests = []
        page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e.stack or e}"))
        page.on("request", lambda r: page.requests.append(r.url))
        page.goto(app_url)
        page.wait_for_selector("#latent-map [data-ready='1'], #latent-map[data-ready='1']", state="attached")
        page.wait_for_selector("#decoded img")
        wait_for_idle(page)
        yield page
        browser.close()


def test_page_loads_without_errors_and_from_this_server_only(browser_page, app_url):
    page = browser_page
    assert page.title() == "VAE Latent Explorer"
    assert page.evaluate("typeof Plotly") == "object"                  # plotly.js served by the app itself
    n_traces = page.evaluate("document.querySelector('#latent-map .js-plotly-plot').data.length")
    assert n_traces == 10                                               # ten classes; the markers are divs over it
    assert page.locator("#latent-map .legend").count() == 1
    assert len(slider_values(page)) == 16 and set(slider_values(page)) == {0.0}
    outside = [u for u in page.requests if not u.startswith((app_url, "data:", "blob:"))]
    assert outside == [], "the page must work offline"
    assert page.problems == []


def test_moving_a_slider_changes_the_decoded_image(browser_page):
    page = browser_page
    before = decoded_src(page)
    star = page.evaluate(MARKERS_JS)["slider"]
    assert star is not None                                             # the slider position is on the map
    rng = page.locator(".zslider input[type=range]").first
    rng.focus()
    rng.press("End")                                                    # z0 -> +4, an `input` event
    page.wait_for_function("s => { const i = document.querySelector('#decoded img'); return i && i.src !== s; }",
                           arg=before)
    assert slider_values(page)[0] == 4.0
    page.wait_for_function(f"s => JSON.stringify(({MARKERS_JS})().slider) !== JSON.stringify(s)",
                           arg=star)                                # the star moved with the slider
    place = page.evaluate(STAR_PLACE_JS)
    assert place["shown"]                                               # ... and is drawn where the axes put it
    np.testing.assert_allclose(place["at"], place["expected"], atol=2.0)
    wait_for_idle(page)
    assert page.problems == []


def test_hovering_a_map_point_shows_its_card(browser_page):
    page = browser_page
    trace, i = page.evaluate(ISOLATED_JS, 8)
    pt = page.evaluate(POINT_JS, [trace, i])
    page.mouse.move(pt["x"], pt["y"])
    card = page.locator("#latent-map .vae-map-card")
    card.wait_for(state="visible")
    page.wait_for_function("() => document.querySelectorAll('#latent-map .vae-map-card img').length >= 1")
    assert f"#{pt['index']}" in card.inner_text()
    assert page.problems == []


def test_clicking_a_map_point_loads_its_mean_into_the_sliders(browser_page, weights_root):
    page = browser_page
    before = slider_values(page)
    src = decoded_src(page)
    trace, i = page.evaluate(ISOLATED_JS, 8)
    pt = page.evaluate(POINT_JS, [trace, i])
    page.mouse.click(pt["x"], pt["y"])
    page.wait_for_function("s => document.querySelector('#decoded img').src !== s", arg=src)
    wait_for_idle(page)
    after = slider_values(page)
    assert after != before
    mu = load_atlas(weights_root / "fashion-mnist")["mu"][pt["index"]]
    np.testing.assert_allclose(after, np.clip(mu, -4, 4), atol=0.051)  # the clicked point's mean, in the sliders
    assert page.problems == []


def test_uploading_an_image_shows_its_reconstruction(browser_page):
    page = browser_page
    page.get_by_role("tab", name="Encode an image").click()
    page.locator("#upload input[type=file]").set_input_files(str(EXAMPLES / "drawn-tshirt.png"))
    page.wait_for_selector("#recon img")
    page.wait_for_function("() => /ELBO/.test(document.querySelector('#elbo-stats').innerText)")
    wait_for_idle(page)
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


def test_picking_a_test_set_image_encodes_it(browser_page):
    page = browser_page
    src = page.get_attribute("#recon img", "src")
    page.locator("#test-gallery .thumbnail-item").nth(2).click()
    page.wait_for_function("s => document.querySelector('#recon img').src !== s", arg=src)
    wait_for_idle(page)
    assert page.problems == []


def test_map_markers_still_follow_the_sliders_after_an_upload(browser_page):
    """Both markers stay, and the star keeps moving after the page's gr.Plot charts have loaded
    Gradio's own plotly.js (the map must keep using the one it was drawn with)."""
    page = browser_page
    markers = f"({MARKERS_JS})()"
    star, diamond = page.evaluate(markers).values()
    src = decoded_src(page)
    rng = page.locator(".zslider input[type=range]").nth(1)
    rng.focus()
    rng.press("Home")                                                   # z1 -> -4
    page.wait_for_function("s => document.querySelector('#decoded img').src !== s", arg=src)
    page.wait_for_function(f"s => JSON.stringify({markers}.slider) !== JSON.stringify(s)", arg=star)
    star2, diamond2 = page.evaluate(markers).values()
    assert star2 != star and diamond2 == diamond and len(diamond2) == 2
    wait_for_idle(page)
    assert page.problems == []


def test_screenshot(browser_page, tmp_path):
    page = browser_page
    page.evaluate("window.scrollTo(0, 0)")
    out = tmp_path / "vae-explorer-screenshot.png"
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 20_000
    assert page.problems == []


def test_interpolate_tab_shows_frames_and_a_gif(browser_page):
    page = browser_page
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
    srcs = page.eval_on_selector_all("#frames img", "els => els.map(e => e.src)")
    assert len(set(srcs)) > 1
    assert page.problems == []
