"""Classroom: 30 students on one server, sending the same requests within the same second.

    python bench/classroom.py [--clients 30] [--duration 60] [--weights weights]

Each client is a thread with its own gradio_client that downloads every file, as a browser does,
and sends about one request per second (each client starts at a random moment of the first second).
All clients walk through the same sequence of four requests, one per second, so within each second
the whole class sends the same one: /encode of the same example, /sample with the same seed (n=4),
/decode at z = 0, /pick of index 0. Every downloaded file is opened; a failed call, a failed
download, or a file that is not a whole image of the expected size is an error.

Phase 1 loads our app; phase 2 the bare app (bench/bare_app.py), whose /same, /same_upload and
/same_gallery return fixed PIL images of the same shapes (what a plain Gradio app does), one after
the other in one run so they never compete. Latency is the whole call, downloads included. RSS is
read before the load and at its end, when the server gets Ctrl-C (SIGINT) while the class is still
sending: the seconds until it exits, and the temp files it wrote and left (each server runs with its
own TMPDIR and GRADIO_TEMP_DIR).
Prints markdown rows for BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DEFAULT_WEIGHTS,
    ROOT,
    Server,
    app_cmd,
    bare_cmd,
    count_files,
    free_port,
    header,
    in_threads,
    ms,
    pct,
    ratio,
    row,
    rss_mb,
)

KINDS = ("encode", "sample", "decode", "pick")
SIZE = (280, 280)                      # every image either app returns here (fashion-mnist, the bare app)


def gallery(value) -> list[str]:
    """The files of a gallery as gradio_client gives it: [{"image": path or file data, "caption": ...}]."""
    return [g["image"] if isinstance(g["image"], str) else g["image"]["path"] for g in value]


def check_images(paths: list[str], want: int) -> None:
    """Raise unless there are `want` files and each is a whole image of SIZE."""
    from PIL import Image

    if len(paths) != want:
        raise ValueError(f"{len(paths)} image files, expected {want}")
    for p in paths:
        with Image.open(p) as im:
            im.load()                                      # a truncated file fails here
            if im.size != SIZE:
                raise ValueError(f"{p}: size {im.size}")


def calls(kind: str, c, model: str, dim: int, n: int = 4, steps: int = 4) -> dict:
    """The identical requests of a class, each the same every time: name -> (a call returning the
    image files it downloaded, how many there must be). The bare app answers with fixed PIL images
    of the same shapes (its GIF is a file it wrote once)."""
    from gradio_client import handle_file

    a, b = (handle_file(str(ROOT / "assets" / "examples" / f"drawn-{x}.png")) for x in ("tshirt", "trousers"))
    if kind == "bare":
        return {"encode": (lambda: [c.predict(a, model, api_name="/same_upload")], 1),
                "sample": (lambda: gallery(c.predict(n, api_name="/same_gallery")), n),
                "decode": (lambda: [c.predict([0.0] * dim, model, api_name="/same")], 1),
                "pick": (lambda: [c.predict(0, model, api_name="/same")], 1),
                "interpolate": (lambda: joined(c.predict(a, b, steps, api_name="/same_frames")), steps + 1)}
    return {"encode": (lambda: [c.predict(a, model, api_name="/encode")[0]], 1),
            "sample": (lambda: gallery(c.predict(n, 1.0, 0, model, api_name="/sample")), n),   # zs: a State
            "decode": (lambda: [c.predict([0.0] * dim, model, api_name="/decode")], 1),
            "pick": (lambda: [c.predict(0, model, api_name="/pick")[1]], 1),
            "interpolate": (lambda: joined(c.predict(a, b, steps, "spherical", model, api_name="/interpolate")),
                            steps + 1)}


def joined(frames_and_gif) -> list[str]:
    frames, gif = frames_and_gif
    return gallery(frames) + [gif]


def clients(url: str, n: int, downloads: Path) -> list:
    """n gradio_clients made at once, each downloading into a folder of its own."""
    from gradio_client import Client

    out: list = [None] * n

    def make(i):
        out[i] = Client(url, verbose=False, download_files=str(downloads / str(i)))
    in_threads(n, make)
    return out


def model_dim(kind: str, c, model: str) -> int:
    return len(c.predict(0, model, api_name="/pick")[0]) if kind == "ours" else 16


def run_class(s: Server, kind: str, a, downloads: Path, temp: list[Path]) -> dict:
    """The class for a.duration seconds; then Ctrl-C while the students are still sending (calls cut off
    by it are counted apart, not as errors)."""
    cs = clients(s.url, a.clients, downloads / kind)
    dim = model_dim(kind, cs[0], a.model)
    lat: dict[str, list[float]] = {k: [] for k in KINDS}
    errors: Counter = Counter()
    cut_off = []
    lock = threading.Lock()
    stopping = threading.Event()
    rss_before = rss_mb(s.pid)
    t_start = time.perf_counter() + 1.0

    def student(i):
        rng = random.Random(i)
        todo = calls(kind, cs[i], a.model, dim, a.sample_n)
        t_next = t_start + rng.random()                      # somewhere in the first second
        while not stopping.is_set():
            time.sleep(max(0.0, t_next - time.perf_counter()))
            name = KINDS[int(time.perf_counter() - t_start) % len(KINDS)]    # the class's request this second
            fn, want = todo[name]
            t0 = time.perf_counter()
            try:
                check_images(fn(), want)
                with lock:
                    lat[name].append(time.perf_counter() - t0)
            except Exception as e:  # noqa: BLE001  (counted and reported)
                with lock:
                    (cut_off.append(name) if stopping.is_set() else errors.update([f"{name}: {type(e).__name__}"]))
            t_next = max(t_next + 1.0, time.perf_counter())  # one a second; a late answer is not made up
    students = [threading.Thread(target=student, args=(i,), daemon=True) for i in range(a.clients)]
    for t in students:
        t.start()
    time.sleep(max(0.0, t_start + a.duration - time.perf_counter()))
    out = {"elapsed": time.perf_counter() - t_start, "rss": (rss_before, rss_mb(s.pid)),
           "files": sum(count_files(d) for d in temp)}
    stopping.set()
    out["rc"] = s.stop()                                     # Ctrl-C, the class still sending
    out |= {"stop_s": s.stop_s, "left": sum(count_files(d) for d in temp)}
    for t in students:
        t.join(60)
    return out | {"lat": lat, "errors": errors, "cut_off": len(cut_off)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=30)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--sample-n", type=int, default=4)
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    p.add_argument("--model", default="fashion-mnist")
    a = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
    tempfile.tempdir = str(tmp)              # gradio_client's per-download temp folders land here too
    res = {}
    try:
        for kind in ("ours", "bare"):
            port = free_port()
            cmd = app_cmd(port, a.weights) if kind == "ours" else bare_cmd(port)
            temp = {"GRADIO_TEMP_DIR": tmp / kind / "gradio", "TMPDIR": tmp / kind / "tmp"}    # all it writes
            for d in temp.values():
                d.mkdir(parents=True)
            with Server(cmd, port, env={k: str(v) for k, v in temp.items()}, log=str(tmp / f"{kind}.log")) as s:
                s.wait()
                time.sleep(1.0)
                res[kind] = run_class(s, kind, a, tmp / "downloads", list(temp.values()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    o, b = res["ours"], res["bare"]
    all_o = [x for v in o["lat"].values() for x in v]
    all_b = [x for v in b["lat"].values() for x in v]
    n_o, n_b = sum(o["errors"].values()), sum(b["errors"].values())
    header(f"Classroom: {a.clients} clients, about 1 request/s each for {a.duration:.0f} s, the same request "
           f"from every client within each second (/encode of one example, /sample n={a.sample_n} seed 0, "
           "/decode z = 0, /pick 0), every file downloaded and opened, loopback",
           ["figure", "ours", "bare Gradio app (same shapes, fixed PIL images)", "ratio", "target", "met?"])
    row(["calls answered with whole images (per second)", f"{len(all_o)} ({len(all_o) / o['elapsed']:.1f}/s)",
         f"{len(all_b)} ({len(all_b) / b['elapsed']:.1f}/s)", ratio(len(all_o), len(all_b)), "report", "-"])
    row(["errors (failed calls, downloads or images)", f"{n_o} of {n_o + len(all_o)}",
         f"{n_b} of {n_b + len(all_b)}", "-", "0", "yes" if n_o == 0 else "**no**"])
    for q in (50, 99):
        row([f"latency p{q}, all calls", ms(pct(all_o, q)), ms(pct(all_b, q)), ratio(pct(all_o, q), pct(all_b, q)),
             "report", "-"])
    for name in KINDS:
        row([f"  {name} p50 / p99 (n={len(o['lat'][name])}; bare n={len(b['lat'][name])})",
             f"{ms(pct(o['lat'][name], 50))} / {ms(pct(o['lat'][name], 99))}",
             f"{ms(pct(b['lat'][name], 50))} / {ms(pct(b['lat'][name], 99))}",
             ratio(pct(o["lat"][name], 99), pct(b["lat"][name], 99)) + " (p99)", "report", "-"])
    row(["RSS before / after the load", f"{o['rss'][0]:.0f} / {o['rss'][1]:.0f} MB",
         f"{b['rss'][0]:.0f} / {b['rss'][1]:.0f} MB",
         f"{o['rss'][1] - o['rss'][0]:+.0f} MB vs {b['rss'][1] - b['rss'][0]:+.0f} MB", "report", "-"])
    row(["Ctrl-C (SIGINT) at the end, the class still sending: seconds to exit (exit code; calls cut off)",
         f"{o['stop_s']:.1f} s ({o['rc']}; {o['cut_off']})", f"{b['stop_s']:.1f} s ({b['rc']}; {b['cut_off']})", "-",
         "< 10 s", "yes" if o["stop_s"] < 10 and o["rc"] == 0 else "**no**"])
    row(["temp files written / left after Ctrl-C", f"{o['files']} / {o['left']}", f"{b['files']} / {b['left']}", "-",
         "0 left", "yes" if o["left"] == 0 else "**no**"])
    for kind in ("ours", "bare"):
        if res[kind]["errors"]:
            print(f"\nErrors ({kind}): {dict(res[kind]['errors'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
