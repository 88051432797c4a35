"""Interaction latency through gradio_client: our endpoints against a bare app's no-op.

    python bench/latency.py [--reps 40] [--weights weights]

Both servers run at once (app.py and bench/bare_app.py, launched the same way); one client
process calls them in alternation, so both see the same machine state. The floor for every
target is the bare app's /noop, which returns a fresh 280x280 PNG and computes nothing.
Informational floors (no target) show what Gradio itself costs for the same output shapes.
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_WEIGHTS, EXAMPLES, Server, app_cmd, bare_cmd, free_port, header, met, ms, pct, ratio, row  # noqa: E402

SAME_SHAPE = {"/decode": "floor /noop", "/pick": "floor /noop", "/encode": "info: bare /noop_upload",
              "/sample": "info: bare /noop_gallery (16)", "/interpolate": "info: bare /noop_frames (16 + GIF)"}
TARGETS = {"/decode": 1.25, "/pick": 1.25, "/encode": 1.5, "/sample": 1.5, "/interpolate": 2.0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    p.add_argument("--model", default="fashion-mnist")
    a = p.parse_args(argv)

    from gradio_client import Client, handle_file

    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    pa, pb = free_port(), free_port()
    ours = Server(app_cmd(pa, a.weights), pa, env={"GRADIO_TEMP_DIR": str(tmp / "app")}, log=str(tmp / "app.log"))
    bare = Server(bare_cmd(pb), pb, env={"GRADIO_TEMP_DIR": str(tmp / "bare")}, log=str(tmp / "bare.log"))
    try:
        ours.wait(), bare.wait()
        rng = random.Random(0)
        ex = [handle_file(str(e)) for e in EXAMPLES]
        m = a.model
        modes = {"download": str(tmp / "client"), "no download": False}
        clients = {mode: (Client(ours.url, verbose=False, download_files=d),
                          Client(bare.url, verbose=False, download_files=d))
                   for mode, d in modes.items()}
        dim = len(clients["download"][0].predict(0, m, api_name="/pick")[0])

        def z():
            return [round(rng.uniform(-2, 2), 2) for _ in range(dim)]

        def calls_for(co, cb):
            return {
                "/decode": lambda: co.predict(z(), m, api_name="/decode"),
                "/pick": lambda: co.predict(rng.randrange(10000), m, api_name="/pick"),
                "/encode": lambda: co.predict(rng.choice(ex), m, api_name="/encode"),
                "/sample": lambda: co.predict(16, 1.0, rng.randrange(10**6), m, api_name="/sample"),
                "/interpolate": lambda: co.predict(*rng.sample(ex, 2), 16, "spherical", m, api_name="/interpolate"),
                "floor /noop": lambda: cb.predict(z(), m, api_name="/noop"),
                "info: bare /echo (JSON)": lambda: cb.predict(z(), api_name="/echo"),
                "info: bare /noop_upload": lambda: cb.predict(rng.choice(ex), m, api_name="/noop_upload"),
                "info: bare /noop_gallery (16)": lambda: cb.predict(16, api_name="/noop_gallery"),
                "info: bare /noop_frames (16 + GIF)":
                    lambda: cb.predict(*rng.sample(ex, 2), 16, api_name="/noop_frames"),
            }
        calls = {(mode, k): f for mode in modes for k, f in calls_for(*clients[mode]).items()}
        times: dict[tuple, list[float]] = {k: [] for k in calls}
        for rep in range(a.warmup + a.reps):
            order = list(calls)
            rng.shuffle(order)                       # no endpoint always runs first or last
            for k in order:
                t0 = time.perf_counter()
                calls[k]()
                dt = time.perf_counter() - t0
                if rep >= a.warmup:
                    times[k].append(dt)
            shutil.rmtree(tmp / "client", ignore_errors=True)
    finally:
        ours.stop(), bare.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    for mode in modes:
        report(mode, {k: v for (md, k), v in times.items() if md == mode}, a)
    return 0


def report(mode: str, times: dict[str, list[float]], a) -> None:
    what = ("the client downloads every output file, as gradio_client does by default" if mode == "download" else
            "download_files=False: the round trip up to the file URLs, what a browser waits for before it "
            "fetches the images in parallel")
    floor50, floor95 = pct(times["floor /noop"], 50), pct(times["floor /noop"], 95)
    header(f"Interaction latency, gradio_client ({mode}: {what}), {a.reps} calls each, model {a.model}",
           ["endpoint", "ours p50", "ours p95", "floor p50 (bare /noop)", "floor p95", "ratio p50", "ratio p95",
            "target (p50)", "met?"])
    for k in TARGETS:
        r50 = pct(times[k], 50) / floor50
        row([k, ms(pct(times[k], 50)), ms(pct(times[k], 95)), ms(floor50), ms(floor95), f"{r50:.2f}x",
             ratio(pct(times[k], 95), floor95), f"<= {TARGETS[k]}x", met(r50, TARGETS[k])])
    for k in [k for k in times if k.startswith("info")]:
        row([k, ms(pct(times[k], 50)), ms(pct(times[k], 95)), ms(floor50), ms(floor95),
             ratio(pct(times[k], 50), floor50), ratio(pct(times[k], 95), floor95), "-", "-"])
    print("\nOurs against the bare app returning the same output shape (p50 ratio): " + ", ".join(
        f"{k} {ratio(pct(times[k], 50), pct(times[f], 50))} of {f.replace('info: ', '')}"
        for k, f in SAME_SHAPE.items()))


if __name__ == "__main__":
    sys.exit(main())
