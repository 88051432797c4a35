"""Identical requests at once: 16 threads x 10 of the same request, per endpoint, in 3 rounds.

    python bench/identical.py [--threads 16] [--requests 10] [--rounds 3] [--weights weights]

The figures behind tests/test_classroom.py (identical requests at once): /decode at z = 0, /encode of one example,
/sample n=4 seed 0 and /interpolate (4 steps) of one pair, each sent by every thread at once, every
file downloaded and opened; a failed call or download, or a file that is not a whole 280x280 image,
counts as failed. Our app and the bare app (bench/bare_app.py: fixed PIL images of the same shapes,
written by Gradio's cache) run at once; per round and endpoint, ours goes first, then the bare app.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_WEIGHTS, Server, app_cmd, bare_cmd, free_port, header, in_threads, row  # noqa: E402
from classroom import calls, check_images, clients, model_dim  # noqa: E402

ENDPOINTS = ("decode", "encode", "sample", "interpolate")


def burst(cs: list, kind: str, name: str, per_thread: int, model: str, dim: int) -> Counter:
    """Every client sends the same request per_thread times, all starting together: what failed."""
    failed: Counter = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(len(cs))

    def student(i):
        fn, want = calls(kind, cs[i], model, dim)[name]
        barrier.wait()
        for _ in range(per_thread):
            try:
                check_images(fn(), want)
            except Exception as e:  # noqa: BLE001  (counted and reported)
                with lock:
                    failed[type(e).__name__] += 1
    in_threads(len(cs), student)
    return failed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=16)
    p.add_argument("--requests", type=int, default=10, help="per thread")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    p.add_argument("--model", default="fashion-mnist")
    a = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-identical-"))
    tempfile.tempdir = str(tmp)              # gradio_client's per-download temp folders land here too
    ports = {"ours": free_port(), "bare": free_port()}
    servers = {k: Server(app_cmd(port, a.weights) if k == "ours" else bare_cmd(port), port,
                         env={"GRADIO_TEMP_DIR": str(tmp / k)}, log=str(tmp / f"{k}.log")) for k, port in ports.items()}
    failed = {(k, n): [] for k in servers for n in ENDPOINTS}
    kinds: dict[tuple, Counter] = {k: Counter() for k in failed}
    try:
        for s in servers.values():
            s.wait()
        cs = {k: clients(s.url, a.threads, tmp / "downloads" / k) for k, s in servers.items()}
        dims = {k: model_dim(k, cs[k][0], a.model) for k in servers}
        for _ in range(a.rounds):
            for name in ENDPOINTS:
                for k in servers:
                    f = burst(cs[k], k, name, a.requests, a.model, dims[k])
                    failed[(k, name)].append(sum(f.values()))
                    kinds[(k, name)].update(f)
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    n = a.threads * a.requests
    header(f"Identical requests at once: {a.threads} threads x {a.requests} requests, per endpoint, {a.rounds} rounds, "
           "every file downloaded and opened",
           ["endpoint", f"ours: failed of {n}, per round", f"bare Gradio app: failed of {n}, per round", "target",
            "met?"])
    for name in ENDPOINTS:
        o, b = failed[("ours", name)], failed[("bare", name)]
        row([f"/{name}", ", ".join(map(str, o)), ", ".join(map(str, b)), "0", "yes" if not any(o) else "**no**"])
    for key, c in kinds.items():
        if c:
            print(f"\nFailures ({key[0]}, /{key[1]}): {dict(c)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
