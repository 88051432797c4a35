"""The Train tab in a real browser (Debian's Chromium through Playwright, never `playwright install`), against
an app served on a free port with its own temporary runs folder and one training job at a time: train on
your own pictures, move β while it trains, stop, explore the run's model in the page's own decoder; the
queue; watching another page's run without its token. Each test has its own server (a fresh queue, its
workers stopped afterwards) and its own pages, so any one of them passes alone.
"""
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CHROMIUM, PAGE_WAIT, WEIGHTS, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt install chromium)")]
pytest.importorskip("playwright.sync_api")

VIEWPORT = {"width": 1440, "height": 1000}
TRAIN_VIEW = "component_server:train_view"     # the live view's poll (assets/train.js), the one call it repeats
CLASS_VIEW = "component_server:class_view"     # the class grid's poll (assets/classview.js), while it is on screen


@pytest.fixture
def train_url(tmp_path_factory):
    """The app on the shipped weights, its live-training jobs in a temporary runs folder, one running at a
    time (one worker thread: the machine is shared); its workers are stopped afterwards."""
    import app
    from ui.page import build_demo

    demo = build_demo(WEIGHTS, runs=tmp_path_factory.mktemp("runs"), training={"max_running": 1, "threads": 1})
    port = free_port()
    app.launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.training_service.shutdown()
    demo.close()


def call_name(request) -> str:
    """A request to the app's API as 'route' or 'component_server:FUNCTION' (the page's server functions)."""
    route = request.url.split("/gradio_api/", 1)[1].split("?", 1)[0].strip("/")
    if route == "component_server":
        try:
            return f"{route}:{json.loads(request.post_data or '{}').get('fn_name')}"
        except (UnicodeDecodeError, ValueError):
            pass
    return route


@pytest.fixture
def open_train_tab(chromium):
    """open_train_tab(url) -> a page on the Train tab, its own browser context (several may be open at once),
    recording its errors (.problems) and its calls to the app's API (.calls, call_name's)."""
    contexts = []

    def open_(url: str, decoder: bool = False):
        ctx = chromium.new_context(viewport=VIEWPORT)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(PAGE_WAIT)
        page.problems, page.calls = [], []
        page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
        page.on("request", lambda r: "/gradio_api/" in r.url and page.calls.append(call_name(r)))
        page.goto(url)
        if decoder:                                  # the explorer paints in WebAssembly
            page.wait_for_function("() => window.VAE && VAE.stats && VAE.stats.paints > 0"
                                   " && VAE.state.backend === 'wasm'")
        page.get_by_role("tab", name="Train it live").click()
        page.wait_for_function("() => !!(window.VAE && VAE.train)")
        return page
    yield open_
    for ctx in contexts:
        ctx.close()


def train(page) -> dict:
    return page.evaluate("({...VAE.train})")


def wait_train(page, test: str, arg=None) -> None:
    """Wait until the JS function test(VAE.train, arg) holds."""
    page.wait_for_function(f"(arg) => ({test})(VAE.train, arg)", arg=arg)


def pick_data(page, label: str) -> None:
    page.locator("#train-dataset label", has_text=label).click()


def set_number(page, elem_id: str, value: float) -> None:
    """Type into a slider's number box and leave it: Gradio sends the value, and `release` (ui/train.py wires
    β and the learning rate to it) fires on the blur."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.blur()


def start_digits(page, seconds: int = 60) -> None:
    pick_data(page, "digits")
    set_number(page, "train-seconds", seconds)
    page.click("#train-start")


def canvas_pixels(page) -> np.ndarray:
    w, h, px = page.evaluate("""() => { const c = document.querySelector('#live canvas.vae-decoded');
        return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]; }""")
    return np.asarray(px, dtype=np.uint8).reshape(h, w, 4)[..., :3]


def shape_pictures(folder: Path, n: int = 200) -> list[str]:
    """n 32x32 PNGs on white: red discs, green squares, blue triangles, of random sizes and places."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    colours = ("#dc2828", "#28a03c", "#2846dc")
    paths = []
    for i in range(n):
        k, r = i % 3, int(rng.integers(5, 11))
        cx, cy = (int(v) for v in rng.integers(r, 32 - r, size=2))
        img = Image.new("RGB", (32, 32), "white")
        draw = ImageDraw.Draw(img)
        if k == 0:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colours[k])
        elif k == 1:
            draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colours[k])
        else:
            draw.polygon([(cx - r, cy + r), (cx + r, cy + r), (cx, cy - r)], fill=colours[k])
        path = folder / f"{('disc', 'square', 'triangle')[k]}-{i:03d}.png"
        img.save(path)
        paths.append(str(path))
    return paths


def test_train_on_my_own_pictures_move_beta_stop_and_explore_in_the_page(train_url, open_train_tab, tmp_path):
    page = open_train_tab(train_url, decoder=True)
    pick_data(page, "my own images")
    page.locator("#train-files input[type=file]").set_input_files(shape_pictures(tmp_path))
    page.wait_for_function("() => /200 images/.test(document.querySelector('#train-data-info').innerText)")
    assert "colour, 32×32" in page.inner_text("#train-data-info")
    sheet = page.locator("#train-sheet img")
    sheet.scroll_into_view_if_needed()                                  # below the list of 200 files; loads lazily
    sheet.wait_for()
    assert sheet.evaluate("img => img.naturalWidth") >= 8 * 32          # 8 pictures a row
    set_number(page, "train-seconds", 30)
    page.click("#train-start")

    # the charts grow while it trains, the view updating about twice a second
    wait_train(page, "t => t.state === 'running' && t.rows > 0")
    first, t0 = train(page), time.monotonic()
    assert first["job"] and first["step"] > 0
    wait_train(page, "(t, n) => t.rows > n", first["rows"])

    # β moved mid-run: a mark on the loss chart, drawn as a Plotly shape
    set_number(page, "train-beta", 0.5)
    wait_train(page, "t => t.marks >= 1")
    page.wait_for_function("() => document.querySelectorAll('#train-view .vae-train-loss .shapelayer path').length")

    wait_train(page, "(t, n) => t.updates >= n", first["updates"] + 6)   # a few seconds to measure the rate over
    last, t1 = train(page), time.monotonic()
    assert last["job"] == first["job"] and last["rows"] > first["rows"] and last["step"] > first["step"]
    assert (last["updates"] - first["updates"]) / (t1 - t0) >= 1.0, (last, first, t1 - t0)

    page.click("#train-stop")
    wait_train(page, "t => t.state === 'stopped'")

    # Explore this model: the picker shows the run's model, and the page decodes it in WebAssembly
    page.click("#train-explore")
    page.wait_for_function("() => VAE.state.model.startsWith('run-') && VAE.state.backend === 'wasm'")
    model = page.evaluate("VAE.state.model")
    assert model == f"run-{first['job']}-upload-2d"
    assert page.input_value("#model-picker input").startswith(model)

    before, n, sent = canvas_pixels(page), page.evaluate("VAE.stats.paints"), len(page.calls)
    rng = page.locator("#zslider-0 input[type=range]")
    rng.focus()
    rng.press("End")                                                    # z0 -> +4
    page.wait_for_function("n => VAE.stats.paints > n", arg=n)
    assert page.evaluate("Array.from(VAE.state.z)")[0] == 4.0
    assert not np.array_equal(canvas_pixels(page), before)
    assert [c for c in page.calls[sent:] if c not in (TRAIN_VIEW, CLASS_VIEW)] == []   # decoded in the page
    assert page.problems == []


def test_a_second_job_waits_in_the_queue_and_says_how_many_are_ahead(train_url, open_train_tab):
    from gradio_client import Client

    client = Client(train_url, verbose=False)
    first = client.predict(dataset="digits", images=[], latent_dim=2, beta=1.0, seconds=60, api_name="/train")
    assert first["queue_position"] == 0
    page = open_train_tab(train_url)
    start_digits(page)
    wait_train(page, "t => t.state === 'queued'")
    page.wait_for_function("() => /waiting: 1 ahead of you/.test("
                           "document.querySelector('#train-view .vae-train-status').textContent)")
    assert page.problems == []


def test_a_page_without_the_token_may_watch_a_run_but_not_stop_it(train_url, open_train_tab):
    owner = open_train_tab(train_url)
    start_digits(owner)
    wait_train(owner, "t => t.state === 'running' && t.rows > 0")
    job = train(owner)["job"]

    watcher = open_train_tab(train_url)
    watcher.locator("#train-watch input").click()                      # on focus the list of runs refreshes
    watcher.get_by_role("option", name=re.compile(re.escape(job))).click()
    wait_train(watcher, "(t, job) => t.job === job && t.state === 'running'", job)
    seen = train(watcher)["updates"]
    wait_train(watcher, "(t, n) => t.updates >= n + 2 && t.rows > 0", seen)

    watcher.click("#train-stop")
    toast = watcher.locator(".toast-body.error")
    toast.wait_for()
    assert "token" in toast.inner_text()
    step = train(owner)["step"]
    wait_train(owner, "(t, step) => t.step > step || t.state !== 'running'", step)
    assert train(owner)["state"] == train(watcher)["state"] == "running"    # it trains on
    assert owner.problems == [] and watcher.problems == []
