"""Load: 32 concurrent gradio_client clients calling mixed endpoints for 60 s, then an overload burst.

    python bench/load.py [--clients 32] [--duration 60] [--weights weights]

Loopback only. Phase 1 loads our app; phase 2 the bare app (bench/bare_app.py) with the same mix
of output shapes computing nothing (the floor), one after the other so they never compete.
Both run `demo.queue(default_concurrency_limit=4, max_size=64)`. Clients use
download_files=False: latency is the round trip to the result (file URLs), on one 2-core machine
that also runs the 32 clients. Phase 3 floods our queue with more joins than it holds and counts
how many are turned away with Gradio's "Queue is full" (HTTP 503) instead of queued without bound.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DEFAULT_WEIGHTS,
    EXAMPLES,
    MIX,
    Server,
    app_cmd,
    bare_cmd,
    free_port,
    header,
    mixed_call,
    ms,
    pct,
    ratio,
    row,
    rss_mb,
)


def run_load(url: str, kind: str, n_clients: int, duration: float, model: str, pid: int) -> dict:
    from gradio_client import Client

    ex = [str(e) for e in EXAMPLES]
    names = [n for n, w in MIX for _ in range(w)]
    clients = [None] * n_clients

    def make(i):
        clients[i] = Client(url, verbose=False, download_files=False)
    ts = [threading.Thread(target=make, args=(i,)) for i in range(n_clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dim = len(clients[0].predict(0, model, api_name="/pick")[0]) if kind == "ours" else 16

    lat: dict[str, list[float]] = {n: [] for n, _ in MIX}
    errors: Counter = Counter()
    rss = [rss_mb(pid)]
    stop = time.perf_counter() + duration
    lock = threading.Lock()

    def worker(i):
        rng = random.Random(1000 + i)
        while time.perf_counter() < stop:
            name = rng.choice(names)
            t0 = time.perf_counter()
            try:
                mixed_call(kind, clients[i], name, rng, dim, model, ex)
                dt = time.perf_counter() - t0
                with lock:
                    lat[name].append(dt)
            except Exception as e:  # noqa: BLE001  (counted and reported)
                with lock:
                    errors[f"{name}: {type(e).__name__}: {str(e)[:100]}"] += 1

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(n_clients)]
    for t in ts:
        t.start()
    while any(t.is_alive() for t in ts):
        time.sleep(5)
        rss.append(rss_mb(pid))
    elapsed = time.perf_counter() - t0
    return {"lat": lat, "errors": errors, "rss": rss, "elapsed": elapsed}


async def flood(url: str, api_name: str, data: list, n: int) -> Counter:
    """n joins at once, straight to the queue endpoint (as many browsers would send them)."""
    import httpx

    async with httpx.AsyncClient(timeout=60) as http:
        cfg = (await http.get(url + "config")).json()
        fn = next(d["id"] for d in cfg["dependencies"] if d.get("api_name") == api_name)

        async def join():
            body = {"data": data, "fn_index": fn, "session_hash": uuid.uuid4().hex[:10], "event_id": None,
                    "trigger_id": None}
            r = await http.post(url + "gradio_api/queue/join", json=body)
            return f"{r.status_code} {r.json().get('detail', 'queued') if r.status_code != 200 else 'queued'}"
        out = await asyncio.gather(*[join() for _ in range(n)])
    return Counter(o.split(" and size")[0] for o in out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--flood", type=int, default=300, help="joins sent at once in phase 3")
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    p.add_argument("--model", default="fashion-mnist")
    a = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    res = {}
    flood_res = None
    for kind in ("ours", "bare"):
        port = free_port()
        cmd = app_cmd(port, a.weights) if kind == "ours" else bare_cmd(port)
        s = Server(cmd, port, env={"GRADIO_TEMP_DIR": str(tmp / kind)}, log=str(tmp / f"{kind}.log"))
        try:
            s.wait()
            time.sleep(1.0)
            res[kind] = run_load(s.url, kind, a.clients, a.duration, a.model, s.pid)
            if kind == "ours":
                from gradio_client import Client
                from gradio_client.utils import QueueError
                c = Client(s.url, verbose=False, download_files=False)
                dim = len(c.predict(0, a.model, api_name="/pick")[0])
                before = rss_mb(s.pid)
                t0 = time.perf_counter()
                counts = asyncio.run(flood(s.url, "sample", [64, 1.0, 0, a.model], a.flood))
                t_flood = time.perf_counter() - t0
                peak = before
                t1, turned_away = time.perf_counter(), 0
                while True:                       # a user retrying after the burst: "busy" until it drains
                    try:
                        c.predict([0.0] * dim, a.model, api_name="/decode")
                        break
                    except QueueError:
                        turned_away += 1
                        peak = max(peak, rss_mb(s.pid))
                        time.sleep(0.2)
                drain = time.perf_counter() - t1
                peak = max(peak, rss_mb(s.pid))
                time.sleep(2)
                flood_res = {"counts": counts, "t": t_flood, "before": before, "after": rss_mb(s.pid),
                             "peak": peak, "drain": drain, "turned_away": turned_away}
        finally:
            s.stop()
    shutil.rmtree(tmp, ignore_errors=True)

    o, b = res["ours"], res["bare"]
    all_o = [x for v in o["lat"].values() for x in v]
    all_b = [x for v in b["lat"].values() for x in v]
    n_err = sum(o["errors"].values())
    header(f"Load: {a.clients} concurrent gradio_client clients, mixed endpoints "
           f"({', '.join(f'{n} {w}%' for n, w in MIX)}), {a.duration:.0f} s each, loopback",
           ["figure", "ours", "floor (bare app, same shapes, no-op)", "ratio", "target", "met?"])
    row(["requests completed", len(all_o), len(all_b), ratio(len(all_o), len(all_b)), "report", "-"])
    row(["throughput", f"{len(all_o) / o['elapsed']:.1f} req/s", f"{len(all_b) / b['elapsed']:.1f} req/s",
         ratio(len(all_o) / o["elapsed"], len(all_b) / b["elapsed"]), "report", "-"])
    row(["errors", n_err, sum(b["errors"].values()), "-", "0", "yes" if n_err == 0 else "**no**"])
    row(["latency p50 (all endpoints)", ms(pct(all_o, 50)), ms(pct(all_b, 50)), ratio(pct(all_o, 50), pct(all_b, 50)),
         "report", "-"])
    row(["latency p99 (all endpoints)", ms(pct(all_o, 99)), ms(pct(all_b, 99)), ratio(pct(all_o, 99), pct(all_b, 99)),
         "report", "-"])
    for name, _ in MIX:
        lat = o["lat"][name]
        row([f"  {name} p50 / p99 (n={len(lat)})", f"{ms(pct(lat, 50))} / {ms(pct(lat, 99))}",
             f"{ms(pct(b['lat'][name], 50))} / {ms(pct(b['lat'][name], 99))}",
             ratio(pct(o["lat"][name], 99), pct(b["lat"][name], 99)) + " (p99)", "report", "-"])
    g = o["rss"][-1] - o["rss"][0]
    row(["RSS before / after the load", f"{o['rss'][0]:.0f} / {o['rss'][-1]:.0f} MB (max {max(o['rss']):.0f})",
         f"{b['rss'][0]:.0f} / {b['rss'][-1]:.0f} MB", f"{g:+.0f} MB vs {b['rss'][-1] - b['rss'][0]:+.0f} MB",
         "stable (< 50 MB)", "yes" if g < 50 else "**no**"])
    if flood_res:
        f = flood_res
        queued = sum(v for k, v in f["counts"].items() if "queued" in k)
        busy = sum(v for k, v in f["counts"].items() if k.startswith("503"))
        row([f"overload: {a.flood} /sample (n=64) joins at once ({f['t']:.1f} s to send)",
             f"{queued} queued, {busy} refused busy (503)", "-", "-",
             "bounded queue: the excess refused at once", "yes" if busy and queued < a.flood else "**no**"])
        row(["overload: RSS before / after / peak", f"{f['before']:.0f} / {f['after']:.0f} / {f['peak']:.0f} MB",
             "-", "-", "report", "-"])
        row(["overload: a client retrying /decode every 0.2 s after the burst is served after",
             f"{f['drain']:.1f} s ({f['turned_away']} busy answers first)", "-", "-", "report", "-"])
        print(f"\nOverload answers: {dict(f['counts'])} (the queue holds 64 waiting jobs; jobs that finish "
              f"while the burst is being sent free places, so slightly more than 64 can be accepted in all)")
    if o["errors"]:
        print(f"\nErrors (ours): {dict(o['errors'])}")
    print(f"\nRSS every 5 s (MB), ours: {[round(x) for x in o['rss']]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
