"""In the browser: a slider's input event to the new decoded image painted (Playwright + Debian chromium).

    python bench/browser.py [--reps 40] [--weights weights]

For each repetition the page sets the first latent slider to a new value and dispatches the
`input` event a user's drag fires; a MutationObserver sees the decoded <img> get a new src, waits
for the image to decode, then for two animation frames (the second one runs after the frame
holding the new image was painted). The same is done on the bare app's page (one slider wired the
same way to a no-op that returns a 280x280 image): its time is the floor.

A drag is then simulated: 60 input events at 60 Hz (1 s); we count the distinct images painted
during it and the longest gap between two paints (smoothness).
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_WEIGHTS, Server, app_cmd, bare_cmd, free_port, header, ms, pct, ratio, row  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

ONE = """async (value) => {
  const box = document.querySelector('#decoded');
  const before = box.querySelector('img') ? box.querySelector('img').src : null;
  const painted = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return await new Promise((resolve, reject) => {
    const t0 = performance.now();
    const timer = setTimeout(() => { obs.disconnect(); reject(new Error('no new image within 10 s')); }, 10000);
    const check = async () => {
      const img = box.querySelector('img');
      if (!img || !img.src || img.src === before) return;
      obs.disconnect(); clearTimeout(timer);
      try { await img.decode(); } catch (e) {}
      await painted();
      resolve(performance.now() - t0);
    };
    const obs = new MutationObserver(check);
    obs.observe(box, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
    const r = document.querySelector('.zslider input[type=range]');
    r.value = value;
    r.dispatchEvent(new Event('input', {bubbles: true}));
  });
}"""

DRAG = """async ([n, hz]) => {
  const box = document.querySelector('#decoded');
  const r = document.querySelector('.zslider input[type=range]');
  const paints = []; let last = box.querySelector('img') ? box.querySelector('img').src : null;
  const obs = new MutationObserver(() => {
    const img = box.querySelector('img');
    if (img && img.src && img.src !== last) {
      last = img.src;
      requestAnimationFrame(() => requestAnimationFrame(() => paints.push(performance.now())));
    }
  });
  obs.observe(box, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    r.value = (-2 + 4 * i / n).toFixed(2);
    r.dispatchEvent(new Event('input', {bubbles: true}));
    await new Promise(res => setTimeout(res, 1000 / hz));
  }
  const tEnd = performance.now();
  await new Promise(res => setTimeout(res, 1500));          // let the last request land
  obs.disconnect();
  const times = [t0, ...paints];
  let gap = 0; for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  const during = paints.filter(t => t <= tEnd).length;
  return {paints: paints.length, during, drag_ms: tEnd - t0, max_gap_ms: gap,
          settle_ms: paints.length ? paints[paints.length - 1] - tEnd : null};
}"""


def measure(page, url: str, reps: int, warmup: int, rng: random.Random) -> tuple[list[float], dict]:
    page.goto(url)
    page.wait_for_selector(".zslider input[type=range]", timeout=60000)
    page.wait_for_selector("#decoded img", timeout=60000)
    page.wait_for_timeout(1500)                               # let the page's load events settle
    out = []
    for i in range(warmup + reps):
        v = f"{rng.uniform(-3, 3):.2f}"
        t = page.evaluate(ONE, v)
        if i >= warmup:
            out.append(t / 1000)
        page.wait_for_timeout(100)
    drag = page.evaluate(DRAG, [60, 60])
    return out, drag


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    a = p.parse_args(argv)

    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    pa, pb = free_port(), free_port()
    ours = Server(app_cmd(pa, a.weights), pa, env={"GRADIO_TEMP_DIR": str(tmp / "app")}, log=str(tmp / "app.log"))
    bare = Server(bare_cmd(pb), pb, env={"GRADIO_TEMP_DIR": str(tmp / "bare")}, log=str(tmp / "bare.log"))
    res = {}
    try:
        ours.wait(), bare.wait()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            rng = random.Random(0)
            runs = [("bare", bare.url), ("ours", ours.url)]
            for rnd in range(2):                                  # alternate: bare, ours, ours, bare
                for name, url in (runs if rnd == 0 else runs[::-1]):
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    t, drag = measure(page, url, (a.reps + 1) // 2, a.warmup, rng)
                    page.close()
                    res.setdefault(name, {"t": [], "drag": []})
                    res[name]["t"] += t
                    res[name]["drag"].append(drag)
            browser.close()
    finally:
        ours.stop(), bare.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    o, b = res["ours"]["t"], res["bare"]["t"]
    header(f"In the browser: slider input event to new image painted (chromium, Playwright), {len(o)} events each",
           ["figure", "ours", "floor (bare app, same slider wiring, no-op)", "ratio", "target", "met?"])
    row(["input to paint p50", ms(pct(o, 50)), ms(pct(b, 50)), ratio(pct(o, 50), pct(b, 50)), "report", "-"])
    row(["input to paint p95", ms(pct(o, 95)), ms(pct(b, 95)), ratio(pct(o, 95), pct(b, 95)), "report", "-"])
    for name in ("ours", "bare"):
        d = res[name]["drag"]
        print(f"\n{name}: 1 s drag at 60 Hz (60 input events), per run: " + "; ".join(
            f"{x['during']} images painted during the drag ({x['paints']} in all), longest gap between paints "
            f"{x['max_gap_ms']:.0f} ms, last image {x['settle_ms']:.0f} ms after the last event"
            if x["settle_ms"] is not None else "no image painted" for x in d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
