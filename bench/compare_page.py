"""In the browser: the Compare tab's click to every output shown and the page idle.

    python bench/compare_page.py [--clicks 5] [--sets default,vq-gan] [--root CHECKOUT ...] [--weights DIR]

For each set of models and each checkout (--root, repeated: e.g. a worktree of an older commit, then
this one; the servers run one after another, so the checkouts are measured side by side in one run),
a fresh server (`python app.py` of that checkout, its shipped weights) and a fresh headless Chromium
page (Playwright, Debian's chromium): the Compare tab, the first example pair, the models ticked,
then Compare clicked (#compare-button) with seed 0 (the first click after start-up) and `--clicks`
more seeds. Each click is timed in the page, from the click to the last change in the tab after
which, for a quiet second, no Gradio progress indicator shows, every image in the tab has loaded and
nothing in the tab changes (the galleries, the plots, the animation drawn). "images" is the click to
the new samples painted. A set whose models a checkout lacks is skipped for it.

Where the time goes: the time until the progress indicators went, each output's last change, and,
measured after the browser closed in a process of the checkout's own (its ComparePanel.on_compare on
the same inputs, one torch thread as the app runs it), the handler's time and each output's bytes to
the page (the JSON Gradio sends, plus the image files it fetches).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Server, free_port, header, row  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SETS = {"default": ("fashion-mnist-2d-ae", "fashion-mnist-2d-vae", "fashion-mnist-2d-beta4"),
        "vq-gan": ("fashion-mnist-2d-vae", "fashion-mnist-vq", "fashion-mnist-gan")}
QUIET_MS = 1000
BUSY = ".progress-text, .eta-bar, .wrap.generating:not(.hide), .wrap.pending:not(.hide)"

# click, then watch the tab: the time of the last DOM change after which it stays idle for QUIET_MS
OUTPUTS = ["#compare-recon", "#compare-zoom", "#compare-samples", "#compare-walks", "#compare-clouds",
           "#compare-organise", "#compare-numbers", "#compare-note"]
CLICK = """async ([busySel, quiet, OUTPUTS]) => {
  const root = document.querySelector('#compare-tab') || document.body;
  const srcs = () => [...document.querySelectorAll('#compare-samples img')].map(i => i.src).join(' ');
  const before = srcs();
  let last = performance.now(), lastBusy = 0, imagesAt = null, sawBusy = false;
  const each = {}, watch = {subtree: true, childList: true, attributes: true, characterData: true};
  const obs = new MutationObserver(() => { last = performance.now(); });
  obs.observe(root, watch);
  const outs = OUTPUTS.map(sel => { const el = document.querySelector(sel);       // each output's last change
    const o = new MutationObserver(() => { each[sel.slice(1)] = performance.now(); });
    if (el) o.observe(el, watch);
    return o; });
  const t0 = performance.now();
  document.querySelector('#compare-button').click();
  const frame = () => new Promise(r => requestAnimationFrame(() => r(performance.now())));
  for (;;) {
    const now = await frame();
    if (now - t0 > 180000) throw new Error('not idle within 180 s');
    if (root.querySelector(busySel)) { sawBusy = true; lastBusy = now; continue; }
    const imgs = [...root.querySelectorAll('img')];
    const loaded = imgs.every(i => i.complete && i.naturalWidth > 0);
    const samples = document.querySelectorAll('#compare-samples img');
    if (imagesAt === null && loaded && samples.length && srcs() !== before) imagesAt = now;
    if (loaded && imagesAt !== null && (sawBusy || now - t0 > 500) && now - Math.max(last, lastBusy) > quiet) {
      obs.disconnect(); outs.forEach(o => o.disconnect());
      for (const k in each) each[k] -= t0;
      return {total: Math.max(last, lastBusy) - t0, images: Math.min(imagesAt, last) - t0, busy: lastBusy - t0,
              each};
    }
  }
}"""


def open_compare(browser, url: str, names: tuple[str, ...]):
    page = browser.new_page(viewport={"width": 1400, "height": 4200})   # every output in view: no lazy images
    page.set_default_timeout(180000)
    page.goto(url)
    page.wait_for_selector("#latent-map [data-ready='1'], #latent-map[data-ready='1']", state="attached")
    page.get_by_role("tab", name="Compare: why a VAE").click()
    page.wait_for_selector("#compare-button")
    page.evaluate("""names => document.querySelectorAll('#compare-models input[type=checkbox]').forEach(box => {
        if (box.checked !== names.includes(box.name)) box.click(); })""", list(names))
    page.locator("#compare-tab [data-testid='dataset-cell-0-0']").click()     # the first example pair
    page.wait_for_function("() => document.querySelectorAll('#compare-tab img').length >= 2")
    idle(page)
    return page


def idle(page) -> None:
    page.wait_for_function(f"() => !document.querySelector('{BUSY}')")
    page.wait_for_timeout(500)


def set_seed(page, seed: int) -> None:
    box = page.get_by_label("seed (the same draws for every model)")
    box.fill(str(seed))
    box.dispatch_event("input")
    box.dispatch_event("change")
    box.blur()
    page.wait_for_timeout(300)


def in_browser(root: Path, names: tuple[str, ...], weights: str, seeds: list[int], tmp: Path) -> list[dict]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    cmd = [sys.executable, str(root / "app.py"), "--port", str(port), "--weights", weights]
    server = Server(cmd, port, env={"GRADIO_TEMP_DIR": str(tmp / "app"), "VAE_CACHE_DIR": str(tmp / "cache")},
                    log=str(tmp / "app.log"))
    out = []
    try:
        server.wait()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = open_compare(browser, server.url, names)
            for seed in seeds:
                set_seed(page, seed)
                r = page.evaluate(CLICK, [BUSY, QUIET_MS, OUTPUTS])
                out.append(dict(r, seed=seed))
                idle(page)
            browser.close()
    finally:
        server.stop()
    return out


def in_process(root: Path, names: tuple[str, ...], weights: str, seeds: list[int]) -> dict:
    """The handler's seconds per click (first = models loaded on it) and each output's bytes to the page."""
    sys.path.insert(0, str(root))
    import gradio as gr
    import torch

    from model.serving.registry import ModelRegistry
    from ui.compare import ComparePanel
    from ui.interpolate import example_pairs

    torch.set_num_threads(1)
    a, b = next(p for p in example_pairs() if "drawn-" in p[0])
    panel = ComparePanel(ModelRegistry(weights))
    with gr.Blocks():
        panel.build()
    times, sizes = [], {}
    for seed in seeds:
        t0 = time.perf_counter()
        result = panel.on_compare(a, b, list(names), seed)
        times.append(time.perf_counter() - t0)
    names_of = {id(c): k for k, c in panel.outputs.items()}
    for comp, value in result.items():
        sizes[names_of[id(comp)]] = payload_bytes(comp, value)
    return {"times": times, "sizes": sizes}


def payload_bytes(comp, value) -> tuple[int, int]:
    """(bytes of the JSON Gradio sends for this output, bytes of the image files it names)."""
    data = comp.postprocess(value)
    data = data.model_dump() if hasattr(data, "model_dump") else data
    files = []

    def walk(v):
        if isinstance(v, dict):
            if isinstance(v.get("path"), str) and os.path.isfile(v["path"]):
                files.append(v["path"])
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
    walk(data)
    return len(json.dumps(data, default=str).encode()), sum(os.path.getsize(f) for f in files)


def handler_in_subprocess(root: Path, names, weights: str, seeds: list[int]) -> dict:
    """in_process() for one checkout, in a process of its own (each checkout's modules are its own)."""
    cmd = [sys.executable, __file__, "--handler", "--root", str(root), "--weights", weights,
           "--models", ",".join(names), "--seeds", ",".join(map(str, seeds))]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def report(label: str, set_name: str, clicks: list[dict], handler: dict) -> None:
    later = [c["total"] / 1000 for c in clicks[1:]]
    imgs = [c["images"] / 1000 for c in clicks[1:]]
    t = handler["times"]
    row([label, set_name, f"{clicks[0]['total'] / 1000:.2f} s", f"{clicks[0]['images'] / 1000:.2f} s",
         f"{statistics.median(later):.2f} s / {max(later):.2f} s" if later else "-",
         f"{statistics.median(imgs):.2f} s" if imgs else "-",
         f"{t[0]:.2f} s", f"{statistics.median(t[1:]):.2f} s" if len(t) > 1 else "-",
         f"{sum(j + f for j, f in handler['sizes'].values()) / 1e3:.0f} kB"])


def details(label: str, set_name: str, names, clicks: list[dict], handler: dict) -> str:
    each = {k: statistics.median(c["each"].get(k[1:], 0) for c in clicks) / 1000 for k in OUTPUTS}
    return (f"{label}, {set_name} ({', '.join(names)}): per click, idle at (s): "
            + ", ".join(f"{c['total'] / 1000:.2f}" for c in clicks)
            + "; handler (s): " + ", ".join(f"{x:.2f}" for x in handler["times"])
            + f"; progress shown until (p50) {statistics.median(c['busy'] for c in clicks) / 1000:.2f} s"
            + "; each output's last change (p50, s): " + ", ".join(f"{k[9:]} {v:.2f}" for k, v in each.items())
            + "; bytes per output (JSON + files, kB): "
            + ", ".join(f"{k} {j / 1e3:.0f}+{f / 1e3:.0f}" for k, (j, f) in handler["sizes"].items()))


def describe(root: Path) -> str:
    """The checkout's short commit, '+ changes' when its tracked files differ from it."""
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return head.stdout.strip() + (" + changes" if dirty else "")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clicks", type=int, default=5, help="clicks after the first, each with a new seed")
    p.add_argument("--sets", default="default,vq-gan", help=f"comma-separated: {', '.join(SETS)}")
    p.add_argument("--weights", default=None, help="default: each checkout's weights/")
    p.add_argument("--root", action="append", default=None,
                   help="a checkout to measure (repeat to measure several side by side; default: this one)")
    p.add_argument("--handler", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--models", help=argparse.SUPPRESS)
    p.add_argument("--seeds", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    roots = [Path(r).resolve() for r in (a.root or [Path(__file__).resolve().parents[1]])]
    if a.handler:
        print(json.dumps(in_process(roots[0], tuple(a.models.split(",")), a.weights,
                                    [int(x) for x in a.seeds.split(",")])))
        return 0
    seeds = [0] + [101 * (i + 1) for i in range(a.clicks)]
    results = []
    for set_name in a.sets.split(","):
        names = SETS[set_name]
        for root in roots:
            label, weights = describe(root), a.weights or str(root / "weights")
            missing = [n for n in names if not (Path(weights) / n / "config.json").is_file()]
            if missing:
                print(f"{label}: set {set_name} skipped: {', '.join(missing)} not in {weights}", file=sys.stderr)
                continue
            tmp = Path(tempfile.mkdtemp(prefix="bench-compare-"))
            try:
                clicks = in_browser(root, names, weights, seeds, tmp)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            results.append((label, set_name, names, clicks, handler_in_subprocess(root, names, weights, seeds)))
    header("Compare in the page: click to every output shown and the page idle (chromium)",
           ["code", "models", "first click: idle", "first click: images", f"later {a.clicks} clicks: idle p50 / max",
            "later: images p50", "handler, first", "handler, later p50", "bytes to the page"])
    for label, set_name, _, clicks, handler in results:
        report(label, set_name, clicks, handler)
    print()
    for label, set_name, names, clicks, handler in results:
        print("- " + details(label, set_name, names, clicks, handler))
    return 0


if __name__ == "__main__":
    sys.exit(main())
