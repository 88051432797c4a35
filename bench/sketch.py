"""The sketch pad: a stroke's pointer event to the posterior shown, in the page, against the server.

    python bench/sketch.py [--reps 12] [--calls 3] [--weights weights]

One app, one run, alternating per repetition:
- page: a mouse stroke on the Draw tab (60 pointer moves, one per 16 ms); the page encodes the drawing in
  WebAssembly (assets/sketch.js), draws μ ± 2σ, decodes μ, places the diamond and its cloud; the time
  runs from each pointer event's timestamp to all of that done (VAE.sketch.latencies);
- page, server path: the same with the .wasm file blocked (encode_pixels + decode_pixels, per frame);
- server: `--calls` round trips of /encode (gradio_client) with a PNG of the pixels the page just drew.
Also: encodings per second during the strokes and the server requests the page sent while drawing.
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_WEIGHTS, Server, app_cmd, free_port, header, pct, ratio, row  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def open_pad(browser, url: str, block_wasm: bool):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(120_000)
    page.requests = []
    page.on("request", lambda r: page.requests.append(r.url))
    if block_wasm:
        page.route("**/*.wasm", lambda route: route.abort())
    page.goto(url + "?tab=draw")
    page.bring_to_front()                                      # a page in the background gets no animation frames
    want = "server" if block_wasm else "wasm"
    try:
        page.wait_for_function(
            f"() => window.VAE && VAE.sketch && VAE.sketch.backend === '{want}' && VAE.sketch.encodes > 0")
    except Exception:
        print("pad not ready:", page.evaluate("""() => JSON.stringify([window.VAE && VAE.sketch && [VAE.sketch.backend,
            VAE.sketch.encodes], (document.querySelector('#sketch .vae-sketch-status') || {}).textContent,
            document.visibilityState])"""), file=sys.stderr)
        raise
    page.locator("#sketch .vae-sketch-pad").scroll_into_view_if_needed()
    return page


def stroke(page, rep: int, moves: int = 60) -> tuple[list[float], float, int]:
    """One stroke (a loop around the pad's middle): the new latencies (ms), encodings per second, requests."""
    page.bring_to_front()
    page.locator("#sketch .vae-sketch-clear").click()
    page.wait_for_timeout(300)
    box = page.locator("#sketch .vae-sketch-pad").bounding_box()
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] * (0.2 + 0.02 * (rep % 5))
    seen, n0 = page.evaluate("VAE.sketch.latencies.length"), page.evaluate("VAE.sketch.encodes")
    sent = len(page.requests)
    t0 = page.evaluate("performance.now()")
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    for i in range(1, moves + 1):
        a = 2 * math.pi * i / moves
        page.mouse.move(cx + r * math.cos(a), cy + r * math.sin(a) * 1.4)
        page.wait_for_timeout(16)
    page.mouse.up()
    page.wait_for_timeout(500)                                 # the last frame's encoding lands
    t1 = page.evaluate("performance.now()")
    lat = page.evaluate(f"VAE.sketch.latencies.slice({seen})")
    rate = (page.evaluate("VAE.sketch.encodes") - n0) / (t1 - t0 - 500) * 1000      # encodings per second
    work = [u for u in page.requests[sent:] if "/gradio_api/" in u and "/gradio_api/file=" not in u]
    return lat, rate, len(work)


def drawn_png(page, path: Path) -> Path:
    import numpy as np
    from PIL import Image

    px = np.asarray(page.evaluate("VAE.state.sketch.pixels"), dtype=np.uint8).reshape(28, 28)
    Image.fromarray(px, "L").save(path)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=12)
    p.add_argument("--calls", type=int, default=3)
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    a = p.parse_args()
    from gradio_client import Client, handle_file
    from playwright.sync_api import sync_playwright

    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sketch-"))
    with Server(app_cmd(port, a.weights), port, env={"VAE_CACHE_DIR": str(tmp / "cache")}) as server, \
            sync_playwright() as pw:
        server.wait()
        client = Client(server.url, verbose=False)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page, fallback = open_pad(browser, server.url, False), open_pad(browser, server.url, True)
        ours, ours_rate, ours_req, fb, fb_rate, fb_req, served = [], [], 0, [], [], 0, []
        for rep in range(a.reps):
            lat, rate, req = stroke(page, rep)
            ours += lat
            ours_rate.append(rate)
            ours_req += req
            lat, rate, req = stroke(fallback, rep)
            fb += lat
            fb_rate.append(rate)
            fb_req += req
            png = drawn_png(page, tmp / f"drawn-{rep}.png")
            for _ in range(a.calls):
                t0 = time.perf_counter()
                client.predict(image=handle_file(str(png)), model="fashion-mnist", api_name="/encode")
                served.append((time.perf_counter() - t0) * 1000)
        browser.close()
    header(f"Sketch pad: pointer event to posterior shown ({a.reps} strokes of 60 moves each)",
           ["figure", "page (WebAssembly)", "page, server path", "server /encode round trip"])
    row(["p50 / p95", f"{pct(ours, 50):.1f} / {pct(ours, 95):.1f} ms", f"{pct(fb, 50):.1f} / {pct(fb, 95):.1f} ms",
         f"{pct(served, 50):.1f} / {pct(served, 95):.1f} ms"])
    row(["ratio of p50 to /encode", ratio(pct(ours, 50), pct(served, 50)), ratio(pct(fb, 50), pct(served, 50)),
         "1.00x"])
    row(["encodings per pointer move", f"{len(ours) / (60 * a.reps):.2f}", f"{len(fb) / (60 * a.reps):.2f}", "-"])
    row(["encodings per second while drawing (median; the input comes at that rate)", f"{pct(ours_rate, 50):.1f}",
         f"{pct(fb_rate, 50):.1f}", "-"])
    row(["server requests while drawing", ours_req, fb_req, f"{len(served)} (one per call)"])
    row(["samples", len(ours), len(fb), len(served)])


if __name__ == "__main__":
    main()
