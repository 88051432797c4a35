"""Bytes over the wire in Chromium: what a page costs a class on one network.

    python bench/wire.py [--weights weights] [--switch fashion-mnist-16d-vae] [--rounds 2]

Our page and a bare Gradio page (bench/bare_app.py), side by side in one run, each step in a browser
context of its own (a cold cache, as a student's first visit) and counted with the DevTools Protocol
(Network.loadingFinished's encodedDataLength: headers and body as they crossed the wire, after any
Content-Encoding; a file served from the browser's cache counts 0, a 304 its headers):
- first load: the page opened until it decodes z in WebAssembly (ours) or shows its image (bare);
- reload: the same page reloaded in the same context, until the same;
- model switch: another model picked in the page (ours only: the bare page has no models);
- Draw tab: the Draw tab opened until its encoder runs (ours only).
Each step's bytes are split by kind (the runtime's .wasm, ONNX files, plotly.js, other JS and CSS, the
API's JSON and event streams, the rest). The median of --rounds rounds is reported; each round alternates
which server goes first.
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_WEIGHTS, Server, app_cmd, bare_cmd, free_port, header, row  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
QUIET_MS = 1500                  # after a step is done, late requests still count for this long
TARGETS = {"first load": 9e6, "reload": 1e6, "model switch": 4e6}
KINDS = [("runtime .wasm", re.compile(r"\.wasm(\?|$)")), ("ONNX", re.compile(r"\.onnx(\?|$)")),
         ("plotly.js", re.compile(r"plotly[^/]*\.js(\?|$)")), ("other JS, CSS", re.compile(r"\.(m?js|css)(\?|$)")),
         ("API (JSON, streams)", re.compile(r"/gradio_api/|/config|/info"))]
OURS_READY = "() => window.VAE && VAE.state && VAE.state.backend === 'wasm' && VAE.stats.paints > 0"
DRAW_READY = ("() => { const e = document.querySelector('.vae-sketch'); const h = e && e.closest('[data-backend]');"
              " return !!h && h.dataset.backend === 'wasm'; }")
BARE_READY = "() => !!document.querySelector('#decoded img')"


def kind(url: str) -> str:
    return next((name for name, rx in KINDS if rx.search(url)), "other")


class Meter:
    """Bytes received per request over the DevTools Protocol, for one page."""

    def __init__(self, page) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.urls, self.done, self.partial = {}, {}, defaultdict(int)
        self.cdp.on("Network.requestWillBeSent", lambda e: self.urls.setdefault(e["requestId"], e["request"]["url"]))
        self.cdp.on("Network.dataReceived", lambda e: self._data(e))
        self.cdp.on("Network.loadingFinished", lambda e: self.done.__setitem__(e["requestId"], e["encodedDataLength"]))
        self.cdp.send("Network.enable")
        self.mark()

    def _data(self, e) -> None:
        self.partial[e["requestId"]] += e.get("encodedDataLength", 0)

    def mark(self) -> None:
        self.seen = set(self.done) | set(self.partial)

    def since_mark(self) -> dict:
        """{kind: bytes} of the requests that finished or received data since the last mark()."""
        out = defaultdict(int)
        for rid in (set(self.done) | set(self.partial)) - self.seen:
            out[kind(self.urls.get(rid, ""))] += self.done.get(rid, self.partial.get(rid, 0))
        self.mark()
        return dict(out)


def new_page(browser):
    """A page in a browser context of its own (a cold cache) and its meter."""
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    page.set_default_timeout(120000)
    return page, Meter(page)


def step(page, m: Meter, ready: str) -> dict:
    """Wait until `ready`, then QUIET_MS more; the bytes since the last step."""
    page.wait_for_function(ready)
    page.wait_for_timeout(QUIET_MS)
    return m.since_mark()


def load_and_reload(page, m: Meter, url: str, ready: str) -> dict:
    page.goto(url)
    out = {"first load": step(page, m, ready)}
    page.reload()
    return out | {"reload": step(page, m, ready)}


def ours_steps(browser, url: str, switch: str) -> dict:
    page, m = new_page(browser)
    out = load_and_reload(page, m, url, OURS_READY)
    page.locator("#model-picker input").click()
    page.get_by_role("option", name=re.compile(rf"^{re.escape(switch)}( —|$)")).click()
    out["model switch"] = step(page, m, f"() => VAE.state.model === {switch!r} && VAE.state.backend === 'wasm'")
    page.get_by_role("tab", name="Draw").click()
    out["Draw tab"] = step(page, m, DRAW_READY)
    page.context.close()
    return out


def bare_steps(browser, url: str) -> dict:
    page, m = new_page(browser)
    out = load_and_reload(page, m, url, BARE_READY)
    page.context.close()
    return out


def mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    p.add_argument("--switch", default="fashion-mnist-16d-vae", help="the model picked for the switch step")
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args(argv)

    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-wire-"))
    pa, pb = free_port(), free_port()
    ours = Server(app_cmd(pa, a.weights), pa, log=str(tmp / "app.log"),
                  env={"GRADIO_TEMP_DIR": str(tmp / "app"), "VAE_CACHE_DIR": str(tmp / "c")})
    bare = Server(bare_cmd(pb), pb, env={"GRADIO_TEMP_DIR": str(tmp / "bare")}, log=str(tmp / "bare.log"))
    runs = {"ours": [], "bare": []}
    try:
        ours.wait(), bare.wait()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for rnd in range(a.rounds):
                order = ["ours", "bare"] if rnd % 2 == 0 else ["bare", "ours"]
                for who in order:
                    runs[who].append(ours_steps(browser, ours.url, a.switch) if who == "ours"
                                     else bare_steps(browser, bare.url))
            browser.close()
    finally:
        ours.stop(), bare.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report(runs, a)
    return 0


def median_step(rounds: list[dict], step: str) -> dict:
    """{kind: median bytes} over the rounds, and 'total' (the median of the totals)."""
    names = {k for r in rounds for k in r.get(step, {})}
    out = {k: statistics.median(r.get(step, {}).get(k, 0) for r in rounds) for k in names}
    out["total"] = statistics.median(sum(r.get(step, {}).values()) for r in rounds)
    return out


def report(runs: dict, a) -> None:
    header(f"Bytes over the wire in Chromium (DevTools Protocol), median of {a.rounds} rounds, each step in a cold "
           "browser context", ["step", "ours", "of which: " + ", ".join(k for k, _ in KINDS) + ", other",
                               "bare Gradio page", "target", "met?"])
    for step in ("first load", "reload", "model switch", "Draw tab"):
        o = median_step(runs["ours"], step)
        b = median_step(runs["bare"], step) if step in runs["bare"][0] else None
        parts = ", ".join(mb(o.get(k, 0)) for k in [k for k, _ in KINDS] + ["other"])
        target = TARGETS.get(step)
        row([step + (f" (to {a.switch})" if step == "model switch" else ""), mb(o["total"]), parts,
             mb(b["total"]) if b else "-", f"<= {mb(target)}" if target else "report",
             ("yes" if o["total"] <= target else "**no**") if target else "-"])
    print("\nall rounds (MB): " + "; ".join(
        f"{who} {step} " + ", ".join(f"{sum(r[step].values()) / 1e6:.2f}" for r in runs[who])
        for who in runs for step in runs[who][0]))


if __name__ == "__main__":
    sys.exit(main())
