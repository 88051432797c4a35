"""Train it live: time to a separated map, the worker's throughput, the app while a job trains.

    python bench/train_live.py [separation] [throughput] [server]      (default: all three, ~7 min on 2 idle cores)
        [--threads N] [--budget 60] [--epochs 2] [--rounds 1] [--decode-reps 40] [--clients 30]
        [--class-duration 30] [--browser-reps 20] [--no-browser] [--weights weights] [--open-tab-s 5]

1. separation: Start pressed, as the Train tab does it: TrainingService.submit on a fresh service (temp runs
   root), fashion-mnist, latent 2, β 1, the defaults (size small, KL warm-up on), a --budget s budget, the
   Train tab opened --open-tab-s seconds before (service.warm, what the tab's select event calls: the training
   processes start and load the data; 0: a cold start, the process starting with the job); the clock runs
   from submit, so what start-up is left and the live view's cost count. Each new RUN_DIR/live.json
   (about every 0.7 s) is read; its "map" is the 2,000 held-out images' means (int16 xy times "scale"; for a
   2-D latent the map is the means themselves) with their labels, and the k-nearest-neighbour class accuracy
   (k = 10, leave-one-out among the 2,000, Euclidean, majority vote, a tie going to the class met first) is
   computed after the run. Target: accuracy >= 0.6 within 30 s of Start.
   Reference, same run, after the worker has ended: the bare loop, in this process, the same model, data,
   seed, shuffling and schedules (model/training/loop.py's setup and train_step, KL warm-up 200 steps, lr
   warm-up 20), without the live view, end-of-epoch evaluation, tqdm or hooks; its clock starts at setup()
   (data loading and model building, imports excluded) and pauses while the same 2,000 images are encoded
   and scored, at the same seconds as the worker's updates.
2. throughput: `python -m model train` (the small model, --epochs N, 468 steps each) against a worker job
   stopped at the same number of steps, same --threads (OMP_NUM_THREADS too); --rounds alternates the order.
   CLI: the median of its per-epoch images/s (training steps only; metrics.json's images_per_second).
   Worker: steps x 128 / seconds between the live.json written at step 0 (just before the first step) and
   the first one at or past the last step, from the worker's own "step" and "updated" stamps: start-up
   excluded; the live view, control polling and end-of-epoch test evaluation included. Its own images_per_s
   (the median over updates) is shown too. Target: worker / CLI >= 0.9.
3. server: `python app.py --runs TMP --train-threads N`; /decode p50 (gradio_client, random z, the shipped
   fashion-mnist model) idle, then while a job (/train: fashion-mnist, 2-D, β 1) trains, then idle again
   after /train_stop; the classroom of bench/classroom.py (--clients, about one request a second each, the
   same request each second: /encode, /sample, /decode, /pick, every file downloaded and opened) for
   --class-duration s while it trains; and, unless --no-browser, bench/browser.py's slider input event to
   the canvas painted in another page (Explore, decoded in WebAssembly), idle and while it trains.
   Targets: /decode p50 training / idle <= 1.5x; 0 classroom errors.
Prints markdown rows for BENCHMARKS.md. Short smoke runs: --budget 10 --epochs 1 --decode-reps 5
--clients 4 --class-duration 5 --browser-reps 3.
"""
from __future__ import annotations

import argparse
import base64
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import DEFAULT_WEIGHTS, ROOT, Server, app_cmd, free_port, header, ms, pct, ratio, row  # noqa: E402

from model.training.control import LIVE_NAME, read_json  # noqa: E402

K = 10
TARGET_ACC, TARGET_S = 0.6, 30.0
TARGET_IPS, TARGET_DECODE = 0.9, 1.5
BATCH, STEPS_PER_EPOCH = 128, 468            # fashion-mnist: 60,000 // 128
JOB = {"dataset": "fashion-mnist", "latent_dim": 2, "beta": 1.0}     # the rest: the Train tab's defaults
TERMINAL = ("done", "stopped", "failed")


# ---------------------------------------------------------------- shared
def knn_accuracy(xy: np.ndarray, labels: np.ndarray, k: int = K) -> float:
    """Leave-one-out k-NN class accuracy (Euclidean; majority vote, a tie to the class met first)."""
    xy = np.asarray(xy, dtype=np.float64)
    d = sum((xy[:, None, j] - xy[None, :, j]) ** 2 for j in range(xy.shape[1]))        # (N, N)
    np.fill_diagonal(d, np.inf)
    nn = np.argpartition(d, k, axis=1)[:, :k]
    nn = np.take_along_axis(nn, np.take_along_axis(d, nn, 1).argsort(1, kind="stable"), 1)   # nearest first
    lab = labels[nn].astype(np.int64)                                                   # (N, k)
    rows = np.arange(len(xy))
    counts = np.zeros((len(xy), int(labels.max()) + 1))
    np.add.at(counts, (rows[:, None], lab), 1)
    best = counts[rows[:, None], lab] == counts.max(1)[:, None]
    pred = lab[rows, best.argmax(1)]
    return float((pred == labels).mean())


def map_points(m: dict) -> tuple[np.ndarray, np.ndarray]:
    """live.json's map: (xy as floats, labels)."""
    xy = np.frombuffer(base64.b64decode(m["xy"]), dtype="<i2").reshape(-1, 2) * float(m["scale"])
    return xy, np.frombuffer(base64.b64decode(m["labels"]), dtype=np.uint8)


class NoRegistry:
    """The service registers a finished run as a model; these benchmarks end the worker before that."""

    def add(self, *args, **kwargs) -> None:
        pass


def watch(path: Path, t0: float, done, poll: float = 0.05, keep_map: bool = False) -> list[dict]:
    """Every new live.json until done(updates) is true: seconds since t0 when seen, the worker's step,
    its "updated" stamp, images_per_s and state (and the map, if asked)."""
    seen, out = None, []
    while not done(out):
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime is not None and mtime != seen:
            seen, live = mtime, read_json(path)
            if "step" in live and "updated" in live:
                out.append({"t": time.perf_counter() - t0, "step": live["step"], "updated": live["updated"],
                            "ips": live.get("images_per_s", 0.0), "state": live.get("state"),
                            **({"map": live.get("map")} if keep_map else {})})
        time.sleep(poll)
    return out


def submit(root: Path, threads: int, seconds: float, open_tab_s: float = 0.0):
    """A fresh service and one job on it, as Start does: (service, job, worker process, when it was submitted).
    open_tab_s > 0: the Train tab was opened that long before Start (the service warmed its processes)."""
    from model.serving.training import TrainingService

    service = TrainingService(root, NoRegistry(), threads=threads)
    if open_tab_s > 0:
        service.warm([JOB["dataset"]])
        time.sleep(open_tab_s)
    t = time.perf_counter()
    _, job = service.submit(JOB | {"seconds": seconds})
    return service, job, next(p.proc for p in service.backend.pool if job.dir in p.jobs), t


def end_worker(service, proc) -> None:
    """The worker (our child) ended at once, its final weights folder unwritten, so that nothing else shares
    the CPU with what is measured next: the service's shutdown with no grace terminates it (SIGTERM)."""
    service.shutdown(grace_s=0.0)
    if proc is not None:
        proc.wait(30)


# ---------------------------------------------------------------- 1. time to separation
def worker_curve(a, tmp: Path) -> list[dict]:
    service, job, proc, t0 = submit(tmp / "runs-separation", a.threads, a.budget, a.open_tab_s)
    first: list[float] = []

    def done(ups):
        if ups and not first:
            first.append(ups[0]["t"])
        return (proc.poll() is not None or (ups and ups[-1]["state"] in TERMINAL)
                or (first and time.perf_counter() - t0 - first[0] > a.budget + 1.0))
    try:
        ups = watch(job.dir / LIVE_NAME, t0, done, keep_map=True)
    finally:
        end_worker(service, proc)
    for u in ups:
        if u.get("map"):
            u["acc"] = knn_accuracy(*map_points(u.pop("map")))
    return [u for u in ups if "acc" in u]


def bare_curve(a, tmp: Path, moments: list[float]) -> dict:
    """The bare loop, scored at `moments` (seconds of its own clock, which stops while it is scored)."""
    import torch

    from model.training import loop as T
    from model.training.live_view import HOLDOUT
    from model.training.run import epoch_order
    from model.training.worker import KL_WARMUP_STEPS, LR_WARMUP_STEPS, job_config

    job = JOB | {"size": "small", "lr": 2e-3}
    cfg = job_config(job, tmp / "bare")
    cfg.threads = a.threads
    t0 = time.perf_counter()
    run = T.setup(cfg)
    run.cfg.kl_warmup = KL_WARMUP_STEPS / run.steps_per_epoch           # as the worker's on_start
    run.cfg.lr_warmup = LR_WARMUP_STEPS / run.steps_per_epoch
    setup_s = time.perf_counter() - t0
    pick = torch.randperm(len(run.test_x), generator=torch.Generator().manual_seed(1234))[:HOLDOUT]
    holdout, labels = T.to_float(run.test_x[pick]), np.asarray(run.test_ds.labels)[pick.numpy()]
    paused, out, todo = 0.0, [], list(moments)

    def score(step):
        nonlocal paused
        p0 = time.perf_counter()
        run.core.eval()
        with torch.inference_mode():
            mu = run.core.encode(holdout)[0].numpy()
        run.core.train()
        out.append({"t": todo.pop(0), "clock": p0 - t0 - paused, "step": step, "acc": knn_accuracy(mu, labels)})
        paused += time.perf_counter() - p0
    step = 0
    for epoch in range(cfg.epochs):
        perm = epoch_order(cfg.seed, epoch, run.n_train)
        g_eps = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch * 101)
        for xb in T.epoch_batches(run, perm):
            while todo and time.perf_counter() - t0 - paused >= todo[0]:
                score(step)
            if not todo:
                return {"curve": out, "setup_s": setup_s}
            T.train_step(run, xb, step, g_eps)
            run.opt.step()
            step += 1
    return {"curve": out, "setup_s": setup_s}


def first_at(curve: list[dict], acc: float = TARGET_ACC) -> dict | None:
    return next((c for c in curve if c["acc"] >= acc), None)


def separation(a, tmp: Path) -> None:
    import torch

    torch.set_num_threads(a.threads)
    worker = worker_curve(a, tmp)
    if not worker:
        raise RuntimeError("the worker wrote no live view with a map")
    moments = [u["t"] for u in worker]
    bare = bare_curve(a, tmp, moments)
    report_separation(a, worker, bare)


def report_separation(a, worker: list[dict], bare: dict) -> None:
    header(f"Time to separation: Start (TrainingService.submit) to k-NN accuracy >= {TARGET_ACC} on the "
           f"live map (fashion-mnist, 2-D, β 1, size small, KL warm-up, {a.budget:.0f} s budget, threads "
           f"{a.threads}); reference: the bare loop in-process, scored at the same seconds",
           ["seconds since Start", "worker step", "worker k-NN acc (k=10, 2,000 held out)", "bare loop step",
            "bare loop acc"])
    by_t = {round(c["t"], 3): c for c in bare["curve"]}
    wf, bf = first_at(worker), first_at(bare["curve"])
    shown, last = [], -1e9
    for u in worker:                       # about every 5 s, and the first update past the target
        if u["t"] - last >= 5.0 or u is wf or u is worker[-1]:
            shown.append(u)
            last = u["t"]
    for u in shown:
        b = by_t.get(round(u["t"], 3))
        row([f"{u['t']:.1f} s" + (f" (first >= {TARGET_ACC})" if u is wf else ""), u["step"], f"{u['acc']:.3f}",
             b["step"] if b else "-", f"{b['acc']:.3f}" if b else "-"])
    print("\nThe whole curve (seconds since Start: step, accuracy): "
          + "; ".join(f"{u['t']:.1f}: {u['step']}, {u['acc']:.3f}" for u in worker))
    header("Time to separation: summary", ["figure", "worker (Train tab)", "bare loop (reference)", "ratio",
                                           "target", "met?"])
    w_s, b_s = (wf["t"] if wf else float("nan")), (bf["t"] if bf else float("nan"))
    row([f"first time k-NN accuracy >= {TARGET_ACC} (step)", f"{w_s:.1f} s ({wf['step']})" if wf else "not reached",
         f"{b_s:.1f} s ({bf['step']})" if bf else "not reached", ratio(w_s, b_s) if wf and bf else "-",
         f"<= {TARGET_S:.0f} s", "yes" if wf and w_s <= TARGET_S else "**no**"])
    row(["first live view (step 0 map) seen: the worker's start-up", f"{worker[0]['t']:.1f} s",
         f"{bare['setup_s']:.1f} s (setup: data and model)", "-", "report", "-"])
    row([f"accuracy and step at {worker[-1]['t']:.0f} s", f"{worker[-1]['acc']:.3f} ({worker[-1]['step']})",
         f"{bare['curve'][-1]['acc']:.3f} ({bare['curve'][-1]['step']})" if bare["curve"] else "-",
         "-", "report", "-"])


# ---------------------------------------------------------------- 2. throughput
def cli_run(a, tmp: Path) -> dict:
    out = tmp / f"cli-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "model", "train", "--dataset", "fashion-mnist", "--latent-dim", "2",
           "--widths", "16,32", "--hidden", "64", "--res-blocks", "0", "--batch-size", str(BATCH),
           "--epochs", str(a.epochs), "--kl-warmup", "0.43", "--lr-warmup", "0.043", "--map", "pca",
           "--iwae-k", "10", "--threads", str(a.threads), "--out", str(out)]
    env = os.environ | {"OMP_NUM_THREADS": str(a.threads), "MKL_NUM_THREADS": str(a.threads), "TQDM_DISABLE": "1"}
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {p.stderr.strip()[-500:]}")
    epochs = [float(x) for x in re.findall(r"(\d+) img/s", p.stdout)]
    metrics = read_json(out / "metrics.json")
    shutil.rmtree(out, ignore_errors=True)
    return {"ips": float(metrics["images_per_second"]), "epochs": epochs, "wall": wall}


def worker_run(a, tmp: Path) -> dict:
    steps = a.epochs * STEPS_PER_EPOCH
    t0 = time.perf_counter()
    service, job, proc, _ = submit(tmp / f"runs-throughput-{time.monotonic_ns()}", a.threads, 1800)

    def done(ups):
        return proc.poll() is not None or (ups and ups[-1]["step"] >= steps)
    try:
        ups = watch(job.dir / LIVE_NAME, t0, done, poll=0.02)
    finally:
        end_worker(service, proc)
    start = next((u for u in ups if u["step"] == 0), ups[0])    # written just before the first step
    end = ups[-1]
    if end["step"] < steps:
        raise RuntimeError(f"the worker ended at step {end['step']} (logs: {job.dir.parent / '.processes'})")
    rates = [u["ips"] for u in ups if u["step"] > 0 and u["ips"]]
    return {"ips": (end["step"] - start["step"]) * BATCH / (end["updated"] - start["updated"]),
            "own": float(np.median(rates)), "steps": end["step"], "wall": end["t"], "startup": start["t"]}


def throughput(a, tmp: Path) -> None:
    res = {"cli": [], "worker": []}
    for r in range(a.rounds):
        for kind in (("cli", "worker") if r % 2 == 0 else ("worker", "cli")):
            res[kind].append((cli_run if kind == "cli" else worker_run)(a, tmp))
    c, w = res["cli"], res["worker"]
    c_ips, w_ips = np.median([x["ips"] for x in c]), np.median([x["ips"] for x in w])
    header(f"Training throughput of the live worker: the small model (widths 16,32, hidden 64, no "
           f"residual blocks, latent 2, batch {BATCH}), {a.epochs * STEPS_PER_EPOCH} steps, threads {a.threads}, "
           f"{a.rounds} round(s) alternating", ["figure", "worker (Train tab job)", "`python -m model train`",
                                                "ratio worker/CLI", "target", "met?"])
    row(["training images/s (worker: step 0 to the last step by its own clock; CLI: median of its epochs)",
         f"{w_ips:.0f}", f"{c_ips:.0f} (epochs: {', '.join(f'{e:.0f}' for x in c for e in x['epochs'])})",
         f"{w_ips / c_ips:.2f}x", f">= {TARGET_IPS}x", "yes" if w_ips / c_ips >= TARGET_IPS else "**no**"])
    row(["... the worker's own images_per_s (median over its live.json updates)",
         f"{np.median([x['own'] for x in w]):.0f}", "-", f"{np.median([x['own'] for x in w]) / c_ips:.2f}x",
         "report", "-"])
    row(["wall time: worker from submit to the last step (start-up: first live.json); CLI whole process "
         "(with test evaluation, atlas and metrics)", f"{np.median([x['wall'] for x in w]):.1f} s "
         f"({np.median([x['startup'] for x in w]):.1f} s)", f"{np.median([x['wall'] for x in c]):.1f} s", "-",
         "report", "-"])


# ---------------------------------------------------------------- 3. the app while a job trains
def decode_times(c, dim: int, model: str, reps: int, rng: random.Random, warmup: int = 3) -> list[float]:
    out = []
    for i in range(warmup + reps):
        z = [round(rng.uniform(-2, 2), 2) for _ in range(dim)]
        t0 = time.perf_counter()
        c.predict(z, model, api_name="/decode")
        if i >= warmup:
            out.append(time.perf_counter() - t0)
    return out


def run_class(url: str, a, dim: int, downloads: Path) -> dict:
    """bench/classroom.py's class for a.class_duration seconds (its clients and requests), then joined."""
    from classroom import KINDS, calls, check_images, clients

    cs = clients(url, a.clients, downloads)
    lat: list[float] = []
    errors: Counter = Counter()
    lock = threading.Lock()
    t_start = time.perf_counter() + 1.0

    def student(i):
        rng = random.Random(i)
        todo = calls("ours", cs[i], a.model, dim)
        t_next = t_start + rng.random()
        while t_next < t_start + a.class_duration:
            time.sleep(max(0.0, t_next - time.perf_counter()))
            fn, want = todo[KINDS[int(time.perf_counter() - t_start) % len(KINDS)]]
            t0 = time.perf_counter()
            try:
                check_images(fn(), want)
                with lock:
                    lat.append(time.perf_counter() - t0)
            except Exception as e:  # noqa: BLE001  (counted and reported)
                with lock:
                    errors.update([type(e).__name__])
            t_next = max(t_next + 1.0, time.perf_counter())
    threads = [threading.Thread(target=student, args=(i,), daemon=True) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.class_duration + 120)
    return {"lat": lat, "errors": errors, "window": (t_start, time.perf_counter())}


class Rates:
    """The running job's (time, step) from its live.json, read in a thread: images/s in any window."""

    def __init__(self, runs: Path) -> None:
        self.runs, self.points, self._stop = runs, [], threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        last = None
        while not self._stop.wait(0.2):
            for p in self.runs.glob(f"*/{LIVE_NAME}"):
                live = read_json(p)
                if live.get("state") == "running" and live.get("updated") != last:
                    last = live["updated"]
                    self.points.append((time.perf_counter(), live["step"]))

    def between(self, t0: float, t1: float) -> float:
        pts = [p for p in self.points if t0 <= p[0] <= t1]
        if len(pts) < 2 or pts[-1][0] <= pts[0][0]:
            return float("nan")
        return (pts[-1][1] - pts[0][1]) * BATCH / (pts[-1][0] - pts[0][0])

    def stop(self) -> None:
        self._stop.set()


def browser_times(pw_browser, url: str, a, rng) -> list[float]:
    import browser as page_bench

    return page_bench.measure(pw_browser, url, "wasm", a.browser_reps, 2, 1.0, rng)["t"]


def wait_training(c, token: str, min_step: int = 20, timeout: float = 120.0) -> dict:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        st = c.predict(token, api_name="/train_status")
        if st["state"] == "running" and st["step"] >= min_step:
            return st
        if st["state"] in TERMINAL:
            raise RuntimeError(f"the job ended: {st['message']}")
        time.sleep(0.5)
    raise TimeoutError("the job did not start training")


def wait_ended(c, token: str, timeout: float = 120.0) -> None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout and c.predict(token, api_name="/train_status")["state"] not in TERMINAL:
        time.sleep(0.5)


def server(a, tmp: Path) -> None:
    from gradio_client import Client

    runs = tmp / "runs-app"
    port = free_port()
    cmd = app_cmd(port, a.weights) + ["--runs", str(runs), "--train-threads", str(a.threads)]
    env = {"GRADIO_TEMP_DIR": str(tmp / "gradio"), "VAE_CACHE_DIR": str(tmp / "cache")}
    rng, res = random.Random(0), {"decode": {}, "page": {}}
    pw = rates = None
    with Server(cmd, port, env=env, log=str(tmp / "app.log")) as s:
        s.wait()
        c = Client(s.url, verbose=False, download_files=str(tmp / "client"))
        dim = len(c.predict(0, a.model, api_name="/pick")[0])
        try:
            page = open_browser(a)
            pw = page[0] if page else None

            def measure(phase):
                res["decode"][phase] = decode_times(c, dim, a.model, a.decode_reps, rng)
                if page:
                    res["page"][phase] = browser_times(page[1], s.url, a, rng)
            measure("idle before")
            rates = Rates(runs)
            token = c.predict(dataset="fashion-mnist", images=[], latent_dim=2, beta=1.0, seconds=600,
                              api_name="/train")["job"]
            wait_training(c, token)
            t_train = time.perf_counter()
            measure("training")
            t_measured = time.perf_counter()
            res["class"] = run_class(s.url, a, dim, tmp / "downloads")
            res["ips"] = {"while /decode and the page were measured": rates.between(t_train, t_measured),
                          "during the class": rates.between(*res["class"]["window"])}
            c.predict(token, api_name="/train_stop")
            wait_ended(c, token)
            measure("idle after")
        finally:
            if rates:
                rates.stop()
            if pw:
                page[1].close()
                pw.stop()
    report_server(a, res)


def open_browser(a):
    """(playwright, chromium) unless --no-browser."""
    if a.no_browser:
        return None
    from browser import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    return pw, pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def report_server(a, res: dict) -> None:
    d = res["decode"]
    idle = d["idle before"] + d["idle after"]
    header("The app while a job trains: `python app.py --runs TMP`, a /train job (fashion-mnist, 2-D, "
           f"β 1, small) with --train-threads {a.threads}", ["figure", "while training", "idle (before / after)",
                                                              "ratio", "target", "met?"])
    r = pct(d["training"], 50) / pct(idle, 50)
    row([f"/decode p50 (p95), gradio_client, {a.model}, {len(d['training'])} calls",
         f"{ms(pct(d['training'], 50))} ({ms(pct(d['training'], 95))})",
         f"{ms(pct(idle, 50))} ({ms(pct(d['idle before'], 50))} / {ms(pct(d['idle after'], 50))})",
         f"{r:.2f}x", f"<= {TARGET_DECODE}x", "yes" if r <= TARGET_DECODE else "**no**"])
    p = res["page"]
    if p:
        pidle = p["idle before"] + p["idle after"]
        row(["another page (Explore, WebAssembly): slider input to the canvas painted, p50 (p95)",
             f"{ms(pct(p['training'], 50))} ({ms(pct(p['training'], 95))})",
             f"{ms(pct(pidle, 50))} ({ms(pct(p['idle before'], 50))} / {ms(pct(p['idle after'], 50))})",
             ratio(pct(p["training"], 50), pct(pidle, 50)), "report (16 ms p50 idle: the page decoder's)", "-"])
    cl = res["class"]
    n_err = sum(cl["errors"].values())
    row([f"classroom: {a.clients} clients, ~1 request/s each for {a.class_duration:.0f} s (/encode, /sample, "
         "/decode, /pick): errors", f"{n_err} of {n_err + len(cl['lat'])}", "-", "-", "0",
         "yes" if n_err == 0 else "**no**"])
    row(["classroom: p50 / p99 latency, downloads included", f"{ms(pct(cl['lat'], 50))} / {ms(pct(cl['lat'], 99))}",
         "-", "-", "report", "-"])
    for what, v in res["ips"].items():
        row([f"the job's training images/s {what}", f"{v:.0f}", "-", "-", "report", "-"])
    if cl["errors"]:
        print(f"\nClassroom errors: {dict(cl['errors'])}")


# ---------------------------------------------------------------- main
PARTS = {"separation": separation, "throughput": throughput, "server": server}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("parts", nargs="*", metavar="{separation,throughput,server}", help="default: all three")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--budget", type=float, default=60.0, help="separation: the job's budget (s)")
    p.add_argument("--open-tab-s", type=float, default=5.0,
                   help="separation: the Train tab was opened this long before Start (0: a cold start, as "
                        "before the tab started the training processes)")
    p.add_argument("--epochs", type=int, default=2, help="throughput: epochs of 468 steps")
    p.add_argument("--rounds", type=int, default=1, help="throughput: CLI and worker, alternating")
    p.add_argument("--decode-reps", type=int, default=40)
    p.add_argument("--clients", type=int, default=30)
    p.add_argument("--class-duration", type=float, default=30.0)
    p.add_argument("--browser-reps", type=int, default=20)
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    p.add_argument("--model", default="fashion-mnist")
    a = p.parse_args(argv)
    parts = a.parts or list(PARTS)
    if set(parts) - set(PARTS):
        p.error(f"parts: choose from {', '.join(PARTS)}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-train-live-"))
    tempfile.tempdir = str(tmp)                # gradio_client's downloads land here too
    print(f"load average at the start: {os.getloadavg()[0]:.1f}", flush=True)
    t0 = time.perf_counter()
    try:
        for part in parts:
            PARTS[part](a, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n(run time {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
