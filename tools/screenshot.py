"""The README's pictures: start the app on the shipped weights, open it in Debian's Chromium
(Playwright, never `playwright install`), move one slider, and save a full-page screenshot; with
--compare, run the Compare tab on two test images and save that tab.

    python tools/screenshot.py [--out assets/screenshot.png] [--weights weights]
    python tools/screenshot.py --compare [--out assets/compare.png] [--models fashion-mnist,fashion-mnist-vq,...]
    python tools/screenshot.py --train [--out assets/train.png]     # the Train tab mid-run (β changed once)
    python tools/screenshot.py --typical [--out assets/typical.png] # "Is this typical?" on the lesson's digit
    python tools/screenshot.py --map [--out assets/map.png]         # the map alone: the class palette, the legend
"""
from __future__ import annotations

import argparse
import functools
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_view(page, out: Path) -> None:
    """The explorer as it opens, after one "Random z" (a z that is not the origin)."""
    page.wait_for_selector("#latent-map [data-ready='1'], #latent-map[data-ready='1']", state="attached")
    page.wait_for_function("() => window.VAE && VAE.stats && VAE.state.backend === 'wasm'")
    before = page.evaluate("VAE.stats.paints")
    page.get_by_role("button", name="Random z ~ N(0, I)").click()
    page.wait_for_function("n => VAE.stats.paints > n", arg=before)
    page.wait_for_timeout(1000)                                          # the traversal strip follows
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(out), full_page=True)


def compare_tab(page, out: Path, models: list[str] | None = None) -> None:
    """The Compare tab with its default models (or `models`), on the "Try two test images" pair."""
    page.get_by_role("tab", name="Compare: why a VAE").click()
    if models:
        for box in page.locator("#compare-models label").all():
            name = box.inner_text().split(" — ")[0].strip()
            if box.locator("input").is_checked() != (name in models):
                box.click()
    page.locator("#compare-pair").click()
    page.wait_for_selector("#compare-a img", state="visible")
    page.locator("#compare-button").click()
    page.wait_for_selector("#compare-recon img", state="visible")
    if not models:                                       # the default 2-D trio recorded training snapshots
        page.wait_for_selector("#compare-organise .js-plotly-plot", state="attached")
    for image in ("#compare-zoom", "#compare-samples", "#compare-walks"):   # their <img>s load lazily
        page.locator(image).scroll_into_view_if_needed()
        page.wait_for_selector(f"{image} img", state="visible")
    page.wait_for_timeout(1500)
    page.locator("#compare-tab").screenshot(path=str(out))


def train_tab(page, out: Path, seconds: float = 25) -> None:
    """The Train tab mid-run: Fashion-MNIST, a 2-D latent, the defaults; β moved to 3 after ~10 s."""
    page.get_by_role("tab", name="Train it live").click()
    page.locator("#train-start").click()
    page.wait_for_function("() => VAE.train && VAE.train.state === 'running' && VAE.train.step > 100")
    page.wait_for_timeout(8000)
    box = page.locator("#train-beta input[type=number]")
    box.fill("3")
    box.blur()                                                  # leaving the box is the slider's release
    page.wait_for_function("() => VAE.train.marks > 0", timeout=30_000)
    page.wait_for_timeout(seconds * 1000 - 8000)
    page.locator("#train-tab").screenshot(path=str(out))


def typical_tab(page, out: Path) -> None:
    """The "Is this typical?" tab on the lesson's handwritten digit: its verdict, numbers, map and histograms."""
    page.get_by_role("tab", name="Is this typical?").click()
    page.locator("#typical-digit").click()
    page.wait_for_selector("#typical-map img", state="visible")
    page.wait_for_selector("#typical-plot .js-plotly-plot", state="attached")
    page.wait_for_function("() => !document.querySelector('.progress-text, .eta-bar')")
    page.wait_for_timeout(1500)
    scroll = page.evaluate("window.scrollY")                 # boxes are in the viewport; the clip is in the page
    top = page.locator("#typical-note").bounding_box()["y"] + scroll - 8
    lesson = page.locator("#typical-lesson").bounding_box()
    bottom = lesson["y"] + scroll + lesson["height"] + 8
    page.screenshot(path=str(out), full_page=True, clip={"x": 0, "y": top, "width": 1440, "height": bottom - top})


def map_view(page, out: Path) -> None:
    """The map of the default model in its colour-blind-safe palette, with its legend, the star and the
    keyboard's cursor on the nearest point to it."""
    page.wait_for_selector("#latent-map [data-ready='1'], #latent-map[data-ready='1']", state="attached")
    page.focus("#latent-map .vae-map")
    page.keyboard.press("Home")
    page.wait_for_timeout(500)
    page.locator("#latent-map").screenshot(path=str(out))


def shoot(url: str, out: Path, view) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(240_000)                 # a loaded machine: the worker starts late
        page.goto(url)
        view(page, out)
        browser.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="default: assets/screenshot.png (assets/compare.png with --compare)")
    p.add_argument("--compare", action="store_true", help="the Compare tab instead of the first view")
    p.add_argument("--models", default="", help="with --compare: the models to compare, comma-separated")
    p.add_argument("--train", action="store_true", help="the Train tab mid-run instead of the first view")
    p.add_argument("--typical", action="store_true", help="the Is-this-typical tab on a digit instead")
    p.add_argument("--map", action="store_true", help="the map alone (its palette and legend) instead")
    p.add_argument("--weights", default=str(ROOT / "weights"))
    a = p.parse_args(argv)
    a.out = a.out or str(ROOT / "assets" / ("compare.png" if a.compare else "train.png" if a.train
                                             else "typical.png" if a.typical else "map.png" if a.map
                                             else "screenshot.png"))
    from ui import build_demo
    from ui.files import private_cache
    from ui.server import launch

    with private_cache():
        demo = build_demo(a.weights)
        port = free_port()
        launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
        try:
            compare = functools.partial(compare_tab, models=[m for m in a.models.split(",") if m])
            shoot(f"http://127.0.0.1:{port}/", Path(a.out),
                  compare if a.compare else train_tab if a.train else typical_tab if a.typical
                  else map_view if a.map else first_view)
        finally:
            demo.close()
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
