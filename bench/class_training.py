"""The whole class trains at once: N students call /train at the same moment, and every map organises live.

    python bench/class_training.py [--students 30] [--seconds 45] [--limit 420] [--root DIR] [--label NAME]
        [--app-args "..."] [--decode-reps 40] [--no-open-tab] [--watch page|files]

One app (`python ROOT/app.py`, ROOT defaulting to this checkout; --root another checkout measures an older version
side by side, --app-args its options) on a fresh runs folder. Every student is a thread with its own gradio_client
(its own session). Each opens the Train tab (/train_ready, what the tab's select event calls), and --open-tab-s
seconds later (typing a name) all call /train (Fashion-MNIST, 2-D, β 1, --seconds budget, the other settings the
defaults) at one moment (a barrier). Then each watches its run as its page would: the live view's server function,
train_view, twice a second, with the last step and update it has (so only new rows, and the pictures when newer),
and one projector polls the class view once a second. A student sees what the page shows: the first history row,
the "knn" beside the map (model.analysis.separation.knn_accuracy, k = 10, of the 2,000 held-out means: the
benchmarks' measure), the state. `--watch files` instead reads live.json from the run folder (and /train_status
every POLL_S seconds), scoring the map on the bench's side when the version wrote no "knn", for an older version
without train_view. Per student: accepted or refused (and the message); the first live point after the call; the
first moment k-NN >= 0.6; the end (a terminal state). The training processes' resident memory (the server's
children that run `model worker` or `model train`) is sampled every second; its peak is the figure. /decode p50 is
measured idle before the class and again while it trains (another client, random z on the shipped 16-D model). The
CPU time of the training processes, the server and the bench's own clients (which in a class run on the students'
machines) is reported. The clock stops at --limit seconds.
Prints a markdown table for BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import ROOT, Server, free_port, machine, ms, pct  # noqa: E402

from model.analysis.separation import knn_accuracy  # noqa: E402

TARGET_ACC = 0.6
POLL_S = 3.0                       # each student asks for its run's status every 3 s (the run folder is read between)
TERMINAL = ("done", "stopped", "failed")


def training_rss_mb(server_pid: int) -> float:
    """Resident memory of the server's training processes (MB)."""
    total = 0
    for proc in training_processes(server_pid):
        try:
            total += int((proc / "statm").read_text().split()[1]) * 4096
        except (OSError, ValueError, IndexError):
            continue
    return total / 2**20


def training_processes(server_pid: int) -> list[Path]:
    """The server's training processes (its children running `model worker` or `model train`)."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == server_pid and (b"model worker" in cmd or b"model train" in cmd):
                out.append(proc)
        except (OSError, ValueError, IndexError):
            continue
    return out


def cpu_seconds(proc: Path) -> float:
    """User and system CPU time of one process so far (/proc/PID/stat), in seconds."""
    try:
        fields = proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def knn_of(live: dict) -> float | None:
    """The run's k-NN: as the training process computed it (the same function, on the same means), or, from a
    version that did not, on the bench's side from the map."""
    if "knn" in live:
        return live["knn"]
    m = live.get("map")
    if not m:
        return None
    xy = np.frombuffer(base64.b64decode(m["xy"]), dtype="<i2").reshape(-1, 2) * float(m["scale"])
    labels = np.frombuffer(base64.b64decode(m["labels"]), dtype=np.uint8)
    return knn_accuracy(xy, labels)


class PageCalls:
    """A page's server-function calls (gr.HTML server_functions): Gradio posts each to
    /gradio_api/component_server, naming the component and the function, as the page's scripts do."""

    def __init__(self, url: str) -> None:
        import httpx

        self.url, self.http = url, httpx.Client(timeout=30)
        config = self.http.get(url + "config").json()
        self.ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config.get("components", [])}

    def has(self, elem_id: str) -> bool:
        return elem_id in self.ids

    def call(self, session: str, elem_id: str, fn: str, data):
        r = self.http.post(self.url + "gradio_api/component_server/",
                           json={"session_hash": session, "component_id": self.ids[elem_id], "fn_name": fn,
                                 "data": data})
        r.raise_for_status()
        return r.json()


class Student(threading.Thread):
    """One student: opens the Train tab, presses Start at the class's moment, then watches the run as the page
    does (train_view twice a second, only the rows after the last it has and the pictures when newer), or,
    with --watch files (a version without train_view), reads live.json from the run folder."""

    def __init__(self, i: int, url: str, runs: Path, a, barrier: threading.Barrier, t0: list,
                 page: PageCalls | None) -> None:
        super().__init__(daemon=True)
        self.i, self.url, self.runs, self.a, self.barrier, self.t0, self.page = i, url, runs, a, barrier, t0, page
        self.accepted, self.message, self.first, self.sep, self.end, self.state = False, "", None, None, None, ""
        self.scored_mtime, self.errors, self.answered = 0.0, 0, None

    def run(self) -> None:
        from gradio_client import Client

        c = Client(self.url, verbose=False)
        if self.a.open_tab:                    # the student opens the Train tab: the page asks for the processes
            c.predict("fashion-mnist", api_name="/train_ready")
            time.sleep(self.a.open_tab_s)      # ... and types a name
        self.barrier.wait()
        t_call = time.monotonic()
        try:
            token = c.predict("fashion-mnist", [], 2, 1.0, self.a.seconds, api_name="/train")["job"]
        except Exception as e:                                     # a refusal: its message
            self.message = " ".join(str(e).split())[:160]
            return
        self.accepted, self.answered = True, time.monotonic() - t_call
        job = c.predict(token, api_name="/train_status")["job"]
        if self.page is not None:
            self.watch_page(c.session_hash, job, t_call)
        else:
            self.watch_files(c, token, job, t_call)

    def seen(self, now: float, has_rows: bool, knn, state: str) -> bool:
        """Note what the student sees now; True once the run has ended."""
        if self.first is None and has_rows:
            self.first = now
        if self.sep is None and knn is not None and knn >= TARGET_ACC:
            self.sep = now
        self.state = state
        if state in TERMINAL:
            self.end = now
            return True
        return False

    def watch_page(self, session: str, job: str, t_call: float) -> None:
        since, updated = -1, None
        while time.monotonic() - self.t0[0] < self.a.limit:
            try:
                v = self.page.call(session, "train-view", "train_view", [job, since, updated])
            except Exception:
                self.errors += 1
                time.sleep(0.5)
                continue
            rows = v.get("history") or []
            if rows:
                since = rows[-1]["step"]
            updated = v.get("updated", updated)
            if self.seen(time.monotonic() - t_call, since >= 0, v.get("knn"), v.get("state", "")):
                return
            time.sleep(0.5)

    def watch_files(self, c, token: str, job: str, t_call: float) -> None:
        live_path, t_status = self.runs / job / "live.json", time.monotonic()
        while time.monotonic() - self.t0[0] < self.a.limit:
            try:
                mtime = live_path.stat().st_mtime
                live = json.loads(live_path.read_text()) if mtime != self.scored_mtime else None
            except (OSError, json.JSONDecodeError):
                live = None
            now = time.monotonic() - t_call
            if live:
                self.scored_mtime = mtime
                self.seen(now, bool(live.get("history")), knn_of(live), self.state)
            if time.monotonic() - t_status >= POLL_S:
                t_status = time.monotonic()
                if self.seen(now, self.first is not None, None, c.predict(token, api_name="/train_status")["state"]):
                    return
            time.sleep(0.5)


class Projector(threading.Thread):
    """The class view on the projector: class_view once a second, only the tiles changed since the last."""

    def __init__(self, page: PageCalls, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.page, self.stop, self.polls, self.errors = page, stop, 0, 0

    def run(self) -> None:
        since = None
        while not self.stop.wait(1.0):
            try:
                since = self.page.call("projector", "class-view", "class_view", since)["now"]
                self.polls += 1
            except Exception:
                self.errors += 1


def decode_p50(url: str, reps: int) -> float:
    from gradio_client import Client

    c, rng, times = Client(url, verbose=False), np.random.default_rng(0), []
    for i in range(reps + 3):
        z = [round(float(v), 2) for v in rng.normal(size=16)]
        t = time.perf_counter()
        c.predict(z, "fashion-mnist", api_name="/decode")
        if i >= 3:
            times.append(time.perf_counter() - t)
    return pct(times, 50)


def summary(values: list) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "none"
    return f"{min(got):.1f} / {np.median(got):.1f} / {max(got):.1f} s" + (f" ({len(got)} of {len(values)})"
                                                                            if len(got) < len(values) else "")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--seconds", type=float, default=45)
    p.add_argument("--limit", type=float, default=420, help="stop watching after this many seconds")
    p.add_argument("--root", default=str(ROOT), help="the checkout whose app.py runs")
    p.add_argument("--label", default="this version")
    p.add_argument("--app-args", default="", help="more options for app.py")
    p.add_argument("--decode-reps", type=int, default=40)
    p.add_argument("--open-tab", action=argparse.BooleanOptionalAction, default=True,
                   help="each student opens the Train tab first (/train_ready, what the tab's select event does); "
                        "--no-open-tab for a version without it")
    p.add_argument("--open-tab-s", type=float, default=5.0,
                   help="seconds between opening the Train tab and the class's Start (typing a name)")
    p.add_argument("--watch", choices=("page", "files"), default="page",
                   help="students watch through the page's train_view (and a projector polls the class view), "
                        "or read live.json (for a version without train_view)")
    a = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-class-"))
    runs, port = tmp / "runs", free_port()
    cmd = [sys.executable, str(Path(a.root) / "app.py"), "--port", str(port), "--runs", str(runs),
           *shlex.split(a.app_args)]
    with Server(cmd, port, env={"GRADIO_TEMP_DIR": str(tmp / "g")}, log=str(tmp / "app.log")) as server:
        server.wait()
        url = f"http://127.0.0.1:{port}/"
        idle = decode_p50(url, a.decode_reps)
        barrier, t0 = threading.Barrier(a.students + 1), [0.0]
        page = PageCalls(url) if a.watch == "page" else None
        if page is not None and not page.has("train-view"):
            raise SystemExit("this version's page has no train-view: use --watch files")
        students = [Student(i, url, runs, a, barrier, t0, page) for i in range(a.students)]
        for s in students:
            s.start()
        barrier.wait()
        t0[0] = time.monotonic()
        server_proc = Path(f"/proc/{server.pid}")
        cpu0 = {"server": cpu_seconds(server_proc), "clients": sum(os.times()[:2])}
        peak, busy = 0.0, []
        sampler_stop = threading.Event()

        training_cpu: dict[str, float] = {}

        def sample():
            nonlocal peak
            while not sampler_stop.wait(1.0):
                peak = max(peak, training_rss_mb(server.pid))
                for proc in training_processes(server.pid):      # the last reading of each, while it lives
                    training_cpu[proc.name] = cpu_seconds(proc)
        threading.Thread(target=sample, daemon=True).start()
        projector = Projector(page, sampler_stop) if page is not None and page.has("class-view") else None
        if projector is not None:
            projector.start()
        time.sleep(5)
        busy = decode_p50(url, a.decode_reps)
        for s in students:
            s.join(a.limit + 30)
        sampler_stop.set()
        server_pid = server.pid
        watched = time.monotonic() - t0[0]
        cpu = {"training processes": sum(training_cpu.values()), "server": cpu_seconds(server_proc) - cpu0["server"],
               "the bench's clients": sum(os.times()[:2]) - cpu0["clients"]}
    ok = [s for s in students if s.accepted]
    refusals = sorted({s.message for s in students if not s.accepted})
    print(f"\n{a.label}: {a.students} students, {machine()}; app.py {a.app_args or '(defaults)'} (server pid "
          f"{server_pid})\n")
    print("| | value |\n|---|---|")
    print(f"| accepted | {len(ok)} of {a.students} |")
    if refusals:
        print(f"| refused with | {'; '.join(refusals)[:200]} |")
    print(f"| /train answered (min / median / max) | {summary([s.answered for s in ok])} |")
    print(f"| first live point (min / median / max) | {summary([s.first for s in ok])} |")
    print(f"| time to k-NN {TARGET_ACC} (min / median / max) | {summary([s.sep for s in ok])} |")
    print(f"| finished within {a.limit:.0f} s | {sum(s.state in TERMINAL for s in ok)} of {len(ok)} "
          f"(last at {max((s.end for s in ok if s.end), default=float('nan')):.0f} s) |")
    print(f"| training processes' memory (peak RSS) | {peak / 1024:.2f} GB |")
    if a.watch == "page":
        print(f"| live-view polls that failed | {sum(s.errors for s in students)}"
              + (f"; the projector's class view: {projector.polls} polls, {projector.errors} failed |"
                 if projector is not None else " |"))
    print(f"| /decode p50, training / idle | {ms(busy)} / {ms(idle)} = {busy / idle:.2f}x |")
    print(f"| CPU over the {watched:.0f} s watched (cores) | " +
          ", ".join(f"{k} {v:.0f} s ({v / watched:.2f})" for k, v in cpu.items()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
