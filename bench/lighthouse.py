"""Lighthouse (npm, pinned to 12.2.3) against the app and the bare floor page, in one run, both profiles.

    python bench/lighthouse.py [--runs 3] [--weights weights] [--root OTHER_CHECKOUT ...] [--json out.json]

Lighthouse drives Debian's chromium (CHROME_PATH=/usr/bin/chromium, headless, no sandbox). The mobile
profile is Lighthouse's default (simulated 4x slower CPU and a slow 4G network, a phone's screen),
close to a school Chromebook; the desktop profile is `--preset=desktop`. Each run loads the page cold
(Lighthouse clears the browser's storage first). The app and the floor (bench/bare_app.py: Gradio and
`import torch`, one image and one slider) are run alternately, `--runs` times each per profile; the table
shows medians. With --root, other checkouts (say, the commit before a change) are served and measured in the
same run, alternating with the others. Then, for this checkout's last mobile run: where the main thread went
(per script, Lighthouse's bootup-time audit), its long tasks and its DOM size.

Lighthouse is found as $LIGHTHOUSE, else bench/node_modules/.bin/lighthouse (`npm ci --prefix bench`,
from bench/package.json), else `lighthouse` on PATH.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH, DEFAULT_WEIGHTS, Server, app_cmd, bare_cmd, free_port, header, row  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update"
PROFILES = {"mobile": [], "desktop": ["--preset=desktop"]}
# (label, how to read it from a report, how to print it)
FIGURES = [
    ("performance score", lambda r: r["categories"]["performance"]["score"], "{:.2f}"),
    ("time to interactive", lambda r: r["audits"]["interactive"]["numericValue"] / 1000, "{:.1f} s"),
    ("total blocking time", lambda r: r["audits"]["total-blocking-time"]["numericValue"], "{:,.0f} ms"),
    ("main-thread work", lambda r: r["audits"]["mainthread-work-breakdown"]["numericValue"] / 1000, "{:.1f} s"),
    ("largest contentful paint", lambda r: r["audits"]["largest-contentful-paint"]["numericValue"] / 1000,
     "{:.1f} s"),
    ("bytes", lambda r: r["audits"]["total-byte-weight"]["numericValue"] / 1e6, "{:.2f} MB"),
    ("accessibility score", lambda r: r["categories"]["accessibility"]["score"], "{:.2f}"),
]


def lighthouse_bin() -> str:
    found = os.environ.get("LIGHTHOUSE") or (str(p) if (p := BENCH / "node_modules/.bin/lighthouse").exists()
                                             else shutil.which("lighthouse"))
    if not found:
        sys.exit("lighthouse not found: `npm ci --prefix bench` (bench/package.json pins 12.2.3), or set $LIGHTHOUSE")
    return found


def run_lighthouse(exe: str, url: str, profile: str, out: Path) -> dict:
    cmd = [exe, url, "--quiet", "--output=json", f"--output-path={out}", f"--chrome-flags={CHROME_FLAGS}",
           "--only-categories=performance,accessibility", "--max-wait-for-load=90000", *PROFILES[profile]]
    subprocess.run(cmd, check=True, env=dict(os.environ, CHROME_PATH=CHROMIUM), timeout=600)
    return json.loads(out.read_text())


def warm_up(url: str) -> None:
    """One untimed page load, so that the app's first-use work (ONNX export, the map's data files) is not
    in the first measured run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROME_FLAGS.split()[1:])
        page = browser.new_page()
        page.goto(url)
        page.wait_for_timeout(15000)
        browser.close()


def where_the_time_went(report: dict) -> None:
    print("\nMain thread, the app's last mobile run (Lighthouse bootup-time, per script; simulated slow CPU):\n")
    row(["script", "total", "evaluation", "parse + compile"])
    row(["---"] * 4)
    for item in report["audits"]["bootup-time"]["details"]["items"][:8]:
        row([item["url"].split("?")[0][-60:], f"{item['total']:,.0f} ms", f"{item['scripting']:,.0f} ms",
             f"{item['scriptParseCompile']:,.0f} ms"])
    print("\nBy kind of work (mainthread-work-breakdown):\n")
    for item in report["audits"]["mainthread-work-breakdown"]["details"]["items"][:6]:
        print(f"- {item['groupLabel']}: {item['duration']:,.0f} ms")
    tasks = report["audits"].get("long-tasks", {}).get("details", {}).get("items", [])
    longest = ", ".join(f"{t['duration']:,.0f} ms" for t in tasks[:3])
    dom = report["audits"]["dom-size"]["numericValue"]
    print(f"\nlong tasks: {len(tasks)} (longest: {longest}); DOM elements: {dom:,.0f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page and profile (medians shown)")
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    p.add_argument("--profiles", default="mobile,desktop")
    p.add_argument("--root", action="append", default=[],
                   help="another checkout to measure side by side, its own app.py on its own weights/ (repeatable), "
                        "e.g. the commit before a change: git archive REV | tar -x -C DIR")
    p.add_argument("--json", default=None, help="also write every report's figures here")
    p.add_argument("--keep", default=None, help="copy Lighthouse's full JSON reports into this folder")
    a = p.parse_args(argv)
    exe = lighthouse_bin()
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="bench-lighthouse-"))
    servers = {}                                                    # page name -> Server, the floor first
    port = free_port()
    servers["floor"] = Server(bare_cmd(port), port, log=str(tmp / "bare.log"),
                              env={"GRADIO_TEMP_DIR": str(tmp / "bare")})
    port = free_port()
    servers["this page"] = Server(app_cmd(port, a.weights), port, log=str(tmp / "app.log"),
                                  env={"GRADIO_TEMP_DIR": str(tmp / "app"), "VAE_CACHE_DIR": str(tmp / "c")})
    for i, root in enumerate(a.root):
        port, r = free_port(), Path(root).resolve()
        cmd = [sys.executable, str(r / "app.py"), "--port", str(port), "--weights", str(r / "weights")]
        servers[r.name] = Server(cmd, port, log=str(tmp / f"root{i}.log"),
                                 env={"GRADIO_TEMP_DIR": str(tmp / f"root{i}"), "VAE_CACHE_DIR": str(tmp / f"c{i}")})
    profiles = a.profiles.split(",")
    pages = list(servers)
    res = {(page, prof): [] for page in pages for prof in profiles}
    last = None
    try:
        for srv in servers.values():
            srv.wait()
        for name, srv in servers.items():
            if name != "floor":
                warm_up(srv.url)
        for prof in profiles:
            for i in range(a.runs):
                for page in (pages if i % 2 == 0 else pages[::-1]):        # alternating
                    out = tmp / f"{page.replace(' ', '-')}-{prof}-{i}.json"
                    rep = run_lighthouse(exe, servers[page].url, prof, out)
                    res[page, prof].append({label: get(rep) for label, get, _ in FIGURES})
                    if page == "this page" and prof == "mobile":
                        last = rep
    finally:
        for srv in servers.values():
            srv.stop()
    shown = [pg for pg in pages if pg != "floor"] + ["floor"]
    header(f"Lighthouse {version} (chromium), median of {a.runs} run(s) per page and profile",
           ["", *(f"{pg}, {pr}" for pr in profiles for pg in shown)])
    for label, _, fmt in FIGURES:
        row([label, *(fmt.format(statistics.median(r[label] for r in res[pg, pr])) for pr in profiles for pg in shown)])
    if last is not None:
        where_the_time_went(last)
    if a.keep:
        Path(a.keep).mkdir(parents=True, exist_ok=True)
        for f in tmp.glob("*.json"):
            shutil.copy(f, a.keep)
    if a.json:
        Path(a.json).write_text(json.dumps({f"{k[0]}/{k[1]}": v for k, v in res.items()}, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
