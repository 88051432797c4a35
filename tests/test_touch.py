"""Touch and keyboard: a phone (Playwright's mobile emulation, has_touch) taps map points, drags sliders,
the walk's scrubber and the sketch pad with a finger; every latent slider and the scrubber move from the
keyboard, with a visible focus ring; the decoded image's text alternative names the nearest class."""
import numpy as np
import pytest
from conftest import server_requests
from test_browser import ISOLATED_JS, POINT_JS

from model.store.weights import load_atlas

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 412, "height": 915}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def touch_drag(page, x0: float, y0: float, x1: float, y1: float, steps: int = 12) -> None:
    """A finger drag (real touch events through the browser's input pipeline, via CDP)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]})
    for i in range(1, steps + 1):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [
            {"x": x0 + (x1 - x0) * i / steps, "y": y0 + (y1 - y0) * i / steps}]})
        page.wait_for_timeout(16)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def on_screen(page, selector: str) -> dict:
    """Scrolled into view, once the images that scrolling shows have loaded."""
    el = page.locator(selector).first
    el.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    return el.bounding_box()


def work_requests(page, since: int) -> list[str]:
    """Requests that make the server work (not the page's static images, which load as they scroll in)."""
    return [u for u in server_requests(page, since) if "/gradio_api/file=" not in u]


def test_a_tap_on_a_map_point_loads_it_and_the_text_names_its_class(open_page, app_url, weights_root, m):
    page = open_page(app_url, **PHONE)
    page.wait_for_selector("#latent-map [data-ready='1'], #latent-map[data-ready='1']", state="attached")
    page.locator("#latent-map .vae-map-canvas").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    i = page.evaluate(ISOLATED_JS, 8)
    pt = page.evaluate(POINT_JS, i)
    n = page.evaluate("VAE.stats.paints")
    page.touchscreen.tap(pt["x"] - page.evaluate("scrollX"), pt["y"] - page.evaluate("scrollY"))
    page.wait_for_function("n => VAE.stats.paints > n", arg=n)
    mu = load_atlas(weights_root / "fashion-mnist")["mu"][pt["index"]]
    page.wait_for_function("z => VAE.state.z.every((v, d) => Math.abs(v - z[d]) < 1e-3)",
                           arg=np.round(np.clip(mu, -4, 4), 4).tolist())
    label = m.class_names[int(m.atlas["labels"][pt["index"]])]
    page.wait_for_function("t => document.querySelector('#live canvas.vae-decoded').getAttribute('aria-label')"
                           ".endsWith('nearest class on the map: ' + t)", arg=label)
    assert page.problems == []


def test_a_touch_drag_on_a_slider_repaints(open_page, app_url):
    page = open_page(app_url, **PHONE)
    box = on_screen(page, "#zslider-3 input[type=range]")
    y = box["y"] + box["height"] / 2
    sent, n = len(page.requests), page.evaluate("VAE.stats.paints")
    touch_drag(page, box["x"] + box["width"] / 2, y, box["x"] + box["width"] - 2, y)
    page.wait_for_function("n => VAE.stats.paints > n + 2", arg=n)       # repainted along the drag
    assert page.evaluate("VAE.state.z[3]") > 3.5
    assert work_requests(page, sent) == []
    assert page.problems == []


def test_a_finger_draws_on_the_sketch_pad(open_page, app_url):
    page = open_page(app_url + "?tab=draw", **PHONE)       # on a phone the tab sits in Gradio's overflow menu
    page.wait_for_function("() => VAE.sketch && VAE.sketch.backend === 'wasm' && VAE.sketch.encodes > 0")
    box = on_screen(page, "#sketch .vae-sketch-pad")
    before, scroll = page.evaluate("VAE.sketch.encodes"), page.evaluate("scrollY")
    touch_drag(page, box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15,
               box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.85)
    page.wait_for_function("n => VAE.sketch.encodes > n + 1 && VAE.state.sketch.pixels.some(v => v > 200)", arg=before)
    assert page.evaluate("scrollY") == scroll                              # the finger drew; the page did not scroll
    assert page.problems == []


def test_the_walk_scrubber_follows_a_finger_and_the_keyboard(open_page, app_url):
    page = open_page(app_url + "?tab=interpolate&a=" + ",".join(["1"] * 16) + "&b=" + ",".join(["-1"] * 16), **PHONE)
    page.wait_for_function("() => +document.querySelector('#walk .vae-walk').dataset.paints > 0")
    box = on_screen(page, "#walk .vae-walk-t")
    y = box["y"] + box["height"] / 2
    touch_drag(page, box["x"] + 4, y, box["x"] + box["width"] * 0.6, y)
    page.wait_for_function("() => +document.querySelector('#walk .vae-walk').dataset.t > 0.3")
    scrubber = page.locator("#walk .vae-walk-t")
    scrubber.focus()
    scrubber.press("End")
    page.wait_for_function("() => +document.querySelector('#walk .vae-walk').dataset.t === 1")
    scrubber.press("ArrowLeft")
    page.wait_for_function("() => +document.querySelector('#walk .vae-walk').dataset.t === 0.999")
    assert page.problems == []


def test_every_latent_slider_moves_from_the_keyboard_with_a_visible_focus(open_page, app_url):
    page = open_page(app_url)
    dims = page.evaluate("VAE.state.z.length")
    page.locator("#zslider-0 input[type=number]").focus()
    page.keyboard.press("Tab")                                          # keyboard focus: the range beside it
    ring = page.evaluate("""() => { const el = document.activeElement, s = getComputedStyle(el);
        return {range: el.type === 'range' && !!el.closest('#zslider-0'), visible: el.matches(':focus-visible'),
                style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }""")
    assert ring == {"range": True, "visible": True, "style": "solid", "width": 3.0}
    for i in range(dims):
        rng = page.locator(f"#zslider-{i} input[type=range]")
        rng.focus()
        n = page.evaluate("VAE.stats.paints")
        rng.press("ArrowRight")
        page.wait_for_function("n => VAE.stats.paints > n", arg=n)
        assert abs(page.evaluate(f"VAE.state.z[{i}]") - 0.05) < 1e-6, i
    assert page.problems == []


def pen_stroke(page, box, force: float) -> None:
    """A pen stroke down the pad's middle (CDP mouse events with pointerType 'pen' and a pressure)."""
    cdp = page.context.new_cdp_session(page)
    x = box["x"] + box["width"] / 2
    ys = [box["y"] + box["height"] * (0.2 + 0.6 * i / 12) for i in range(13)]
    common = {"x": x, "pointerType": "pen", "force": force, "button": "left"}
    cdp.send("Input.dispatchMouseEvent", common | {"type": "mousePressed", "y": ys[0], "clickCount": 1, "buttons": 1})
    for y in ys[1:]:
        cdp.send("Input.dispatchMouseEvent", common | {"type": "mouseMoved", "y": y, "buttons": 1})
        page.wait_for_timeout(16)
    cdp.send("Input.dispatchMouseEvent", common | {"type": "mouseReleased", "y": ys[-1], "clickCount": 1, "buttons": 0})
    cdp.detach()


def test_a_pen_draws_thicker_when_pressed_harder(open_page, app_url):
    page = open_page(app_url + "?tab=draw")
    page.wait_for_function("() => VAE.sketch && VAE.sketch.backend === 'wasm' && VAE.sketch.encodes > 0")
    box = on_screen(page, "#sketch .vae-sketch-pad")
    ink = []
    for force in (0.05, 1.0):
        page.locator("#sketch .vae-sketch-clear").click()
        page.wait_for_function("() => VAE.state.sketch.pixels.every(v => v === 0)")
        n = page.evaluate("VAE.sketch.encodes")
        pen_stroke(page, box, force)
        page.wait_for_function("n => VAE.sketch.encodes > n && VAE.state.sketch.pixels.some(v => v > 0)", arg=n)
        page.wait_for_timeout(300)
        ink.append(sum(page.evaluate("VAE.state.sketch.pixels")))
    assert ink[1] > 1.3 * ink[0]
    assert page.problems == []
