"""Memory and temp files: app RSS after start and after 1,000 mixed requests; files left behind.

    python bench/memory.py [--requests 1000] [--weights weights]

Ours and the bare app (bench/bare_app.py, the floor) run at once, each with a private
GRADIO_TEMP_DIR (Gradio's cache) and TMPDIR (where our TempFiles folder of GIFs lives), so every
file they write can be counted: after the requests, and again after a graceful shutdown (SIGINT),
when Gradio deletes its cache (delete_cache) and our TempFiles folder is removed at exit.
The requests alternate between the two servers; 4 client threads each (the queue's concurrency).
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DEFAULT_WEIGHTS,
    EXAMPLES,
    MIX,
    Server,
    app_cmd,
    bare_cmd,
    count_files,
    free_port,
    header,
    mixed_call,
    row,
    rss_mb,
)

TARGET_MB = 50.0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    p.add_argument("--model", default="fashion-mnist")
    a = p.parse_args(argv)

    from gradio_client import Client

    tmp = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    dirs = {k: {"GRADIO_TEMP_DIR": str(tmp / k / "gradio"), "TMPDIR": str(tmp / k / "tmp")} for k in ("ours", "bare")}
    for d in dirs.values():
        for v in d.values():
            Path(v).mkdir(parents=True)
    pa, pb = free_port(), free_port()
    servers = {"ours": Server(app_cmd(pa, a.weights), pa, env=dirs["ours"], log=str(tmp / "ours.log")),
               "bare": Server(bare_cmd(pb), pb, env=dirs["bare"], log=str(tmp / "bare.log"))}
    ex = [str(e) for e in EXAMPLES]
    m = a.model
    stats = {k: {"rss": [], "errors": 0, "done": 0} for k in servers}

    def files(kind):
        return count_files(dirs[kind]["GRADIO_TEMP_DIR"]), count_files(dirs[kind]["TMPDIR"])

    try:
        for s in servers.values():
            s.wait()
        time.sleep(1.0)
        start = {k: rss_mb(s.pid) for k, s in servers.items()}
        start_files = {k: files(k) for k in servers}
        dim = len(Client(servers["ours"].url, verbose=False, download_files=False).predict(0, m, api_name="/pick")[0])
        names = [n for n, w in MIX for _ in range(w)]

        lock = threading.Lock()
        counter = {"n": 0}

        def worker(i):
            rng = random.Random(i)
            clients = {k: Client(s.url, verbose=False, download_files=False) for k, s in servers.items()}
            while True:
                with lock:
                    if counter["n"] >= a.requests:
                        return
                    counter["n"] += 1
                    n = counter["n"]
                name = rng.choice(names)
                for kind in (("ours", "bare") if n % 2 else ("bare", "ours")):
                    try:
                        mixed_call(kind, clients[kind], name, rng, dim, m, ex)
                        stats[kind]["done"] += 1
                    except Exception as e:  # noqa: BLE001  (counted and reported)
                        stats[kind]["errors"] += 1
                        print(f"{kind} {name}: {type(e).__name__}: {str(e)[:120]}", file=sys.stderr)
                if n % 100 == 0:
                    for k, s in servers.items():
                        stats[k]["rss"].append(round(rss_mb(s.pid)))

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(a.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        time.sleep(1.0)
        end = {k: rss_mb(s.pid) for k, s in servers.items()}
        end_files = {k: files(k) for k in servers}
    finally:
        codes = {k: s.stop() for k, s in servers.items()}
    after_files = {k: files(k) for k in servers}
    for k, code in codes.items():
        if code != 0:
            print(f"{k} did not exit within 20 s of SIGINT (code {code}); end of its log:\n" +
                  "".join((tmp / f"{k}.log").read_text().splitlines(keepends=True)[-60:]), file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)

    header(f"Memory: RSS after start and after {a.requests} mixed requests "
           f"({', '.join(f'{n} {w}%' for n, w in MIX)}; {a.threads} client threads, {elapsed:.0f} s)",
           ["figure", "ours", "floor (bare app, same shapes, no-op)", "ratio", "target", "met?"])
    g_o, g_b = end["ours"] - start["ours"], end["bare"] - start["bare"]
    row(["RSS after start", f"{start['ours']:.0f} MB", f"{start['bare']:.0f} MB",
         f"{start['ours'] / start['bare']:.2f}x", "report", "-"])
    row([f"RSS after {a.requests} requests", f"{end['ours']:.0f} MB", f"{end['bare']:.0f} MB",
         f"{end['ours'] / end['bare']:.2f}x", "report", "-"])
    row(["RSS growth", f"{g_o:+.0f} MB", f"{g_b:+.0f} MB", f"{g_o - g_b:+.0f} MB more than the floor",
         f"< {TARGET_MB:.0f} MB", "yes" if g_o < TARGET_MB else "**no**"])
    row(["errors", stats["ours"]["errors"], stats["bare"]["errors"], "-", "0",
         "yes" if not stats["ours"]["errors"] else "**no**"])
    for label, f in (("files in Gradio cache / our temp folder, after start", start_files),
                     (f"... after {a.requests} requests", end_files),
                     ("... after a graceful shutdown (SIGINT)", after_files)):
        row([label, f"{f['ours'][0]} / {f['ours'][1]}", f"{f['bare'][0]} / {f['bare'][1]}", "-", "report", "-"])
    left = {k: max(0, sum(after_files[k]) - sum(start_files[k])) for k in servers}
    row(["files written by requests and left after shutdown", left["ours"], left["bare"], "-", "0",
         "yes" if left["ours"] <= 0 else "**no**"])
    print("\n(After start, the cache holds the page's own images: initial decoded image, test-set gallery, "
          "examples. During a run Gradio deletes request files older than an hour every 10 minutes "
          "(delete_cache=(600, 3600)); at Ctrl-C app.py removes its private cache folder (ui/server.py "
          "private_cache). The bare app sets no delete_cache, "
          "so its request files stay.)")
    print(f"\nRSS every 100 requests (MB): ours {stats['ours']['rss']}, bare {stats['bare']['rss']}; "
          f"exit codes after SIGINT: {codes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
