"""Shared helpers for the bench/ scripts: machine line, servers in subprocesses, RSS, percentiles.

Every script measures our app against a floor (a bare Gradio app, bench/bare_app.py) or an anchor
in the same run, alternating between the two, and prints markdown table rows.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
DEFAULT_WEIGHTS = os.environ.get("VAE_WEIGHTS", str(ROOT / "weights"))
EXAMPLES = sorted((ROOT / "assets" / "examples").glob("drawn-*.png"))
# the mixed traffic of bench/load.py and bench/memory.py: endpoint, share in percent
MIX = [("decode", 40), ("pick", 20), ("encode", 15), ("sample", 15), ("interpolate", 10)]


def mixed_call(kind: str, c, name: str, rng, dim: int, model: str, examples: list[str]):
    """One request of the mix through gradio_client `c`: to our app (kind "ours"), or to the bare
    app's no-op endpoint that takes and returns the same shapes (kind "bare")."""
    from gradio_client import handle_file

    z = [round(rng.uniform(-2, 2), 2) for _ in range(dim)]
    if kind == "bare":
        return {"decode": lambda: c.predict(z, model, api_name="/noop"),
                "pick": lambda: c.predict(z, model, api_name="/noop"),
                "encode": lambda: c.predict(handle_file(rng.choice(examples)), model, api_name="/noop_upload"),
                "sample": lambda: c.predict(16, api_name="/noop_gallery"),
                "interpolate": lambda: c.predict(*[handle_file(e) for e in rng.sample(examples, 2)], 16,
                                                 api_name="/noop_frames")}[name]()
    return {"decode": lambda: c.predict(z, model, api_name="/decode"),
            "pick": lambda: c.predict(rng.randrange(10000), model, api_name="/pick"),
            "encode": lambda: c.predict(handle_file(rng.choice(examples)), model, api_name="/encode"),
            "sample": lambda: c.predict(16, 1.0, rng.randrange(10**6), model, api_name="/sample"),
            "interpolate": lambda: c.predict(*[handle_file(e) for e in rng.sample(examples, 2)], 16, "spherical",
                                             model, api_name="/interpolate")}[name]()


def in_threads(n: int, fn) -> None:
    """fn(i) for i in range(n), each in its own thread; returns when all have finished."""
    threads = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def machine() -> str:
    """'AMD EPYC, 2 cores, 2026-11-25 07:30 UTC' (lscpu model name, usable cores, date)."""
    name = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.lower().startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except (OSError, subprocess.SubprocessError):
        pass
    cores = len(os.sched_getaffinity(0))
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{name}, {cores} cores, {now}"


def busy_note() -> str:
    """Says whether training runs share the CPU (their timings are then noisy)."""
    r = subprocess.run(["pgrep", "-f", "python -m model train"], capture_output=True, text=True)
    n = len([p for p in r.stdout.split() if p.strip() and int(p) != os.getpid()])
    load = f"load average {os.getloadavg()[0]:.1f} at the end"
    return f"measured while {n} training run(s) shared the CPU, {load}" if n else f"no training running, {load}"


def header(title: str, cols: list[str]) -> None:
    print(f"\n### {title}\n\n{machine()}; {busy_note()}; python {platform.python_version()}\n")
    row(cols)
    row(["---"] * len(cols))


def row(cells) -> None:
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "n/a"


def met(r: float, target: float) -> str:
    return "yes" if r <= target else "**no**"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 180.0, proc: subprocess.Popen | None = None) -> float:
    """Poll url until it answers 200; returns the time it took (seconds from the call)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.01)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def app_cmd(port: int, weights: str) -> list[str]:
    return [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--weights", weights]


def bare_cmd(port: int) -> list[str]:
    return [sys.executable, str(BENCH / "bare_app.py"), "--port", str(port)]


class Server:
    """A server in a subprocess on 127.0.0.1:port; stopped with SIGINT (graceful), then SIGKILL."""

    def __init__(self, cmd: list[str], port: int, env: dict | None = None, log: str | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        e = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
        e.update(env or {})
        self.log = open(log or os.devnull, "w")
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            # started as a background job (`cmd &` in a script): the servers would inherit an ignored SIGINT
            # and never stop on it; a handler of ours is reset to the default in the child instead
            signal.signal(signal.SIGINT, signal.default_int_handler)
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 180.0) -> float:
        """Seconds from process start to the first HTTP 200 on /."""
        wait_http(self.url, timeout, self.proc)
        return time.perf_counter() - self.t0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 20.0) -> int:
        """SIGINT (Ctrl-C); after `timeout` s SIGABRT (stacks into the log), then SIGKILL. The exit code;
        self.stop_s: seconds from SIGINT to the exit."""
        t0 = time.perf_counter()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGABRT)       # with PYTHONFAULTHANDLER: stacks into the log
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self.stop_s = time.perf_counter() - t0
        self.log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


COPY_OF = "fashion-mnist-2d"            # the model copied to make a many-models root


def many_models_root(n: int, weights: str | os.PathLike, dest: Path) -> Path:
    """A weights root of n model folders in dest: every model under `weights` (linked: its own files), then
    copies of COPY_OF named copy-01, copy-02, ... (hard links of its files where the file system allows,
    else copies), as trained runs would pile up beside the shipped models; lab-sweep.json linked too."""
    src = Path(weights).resolve()
    shipped = sorted(d for d in src.iterdir() if d.is_dir() and (d / "config.json").is_file())
    if n < len(shipped):
        raise SystemExit(f"--models {n}: {src} already holds {len(shipped)} models")
    dest.mkdir(parents=True, exist_ok=True)
    for d in shipped:
        (dest / d.name).symlink_to(d, target_is_directory=True)
    for f in src.glob("*.json"):
        (dest / f.name).symlink_to(f)
    for i in range(1, n - len(shipped) + 1):
        copy = dest / f"copy-{i:02d}"
        copy.mkdir()
        for f in (src / COPY_OF).iterdir():
            try:
                os.link(f, copy / f.name)
            except OSError:
                shutil.copy2(f, copy / f.name)
    return dest


def rss_mb(pid: int) -> float:
    """Resident set size of a process (MB, from /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def count_files(folder: Path) -> int:
    return sum(1 for p in Path(folder).rglob("*") if p.is_file()) if Path(folder).exists() else 0
