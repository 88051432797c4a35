"""The local backend: a small pool of long-lived training processes on this machine, about one per core,
each training many jobs in turns (`python -m model worker --pool`, model.training.worker).

A new job goes to the process with the fewest jobs (a process slot not yet started counts as empty, so the
first jobs spread over the cores). The cores are shared by threads: a process that trains alone gets all of
them, and when several train each gets its share (torch's intra-op threads, told by a line on its input).
Processes are niced, in their own session, and talk to the server only through their standard input (jobs
in) and the run folders (control.json in, live.json and the snapshots out: model.training.control), so a
crash or a SIGKILL there never touches the server; the jobs it held are reported lost and start again from
their checkpoints in a new process.
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from ...training.control import LIVE_NAME, Control, read_json

PACKAGE_ROOT = Path(__file__).resolve().parents[3]        # where `python -m model` finds the package
IDLE_RELEASE_S = 900.0             # a training process with no job for this long exits (about 300 MB each)


class TrainingProcess:
    """One process of the pool: its Popen, its jobs and the threads it was last told to use."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: subprocess.Popen | None = None
        self.jobs: set[Path] = set()
        self.threads = 0
        self.idle_since = time.monotonic()        # when its last job ended (or it started): see release_idle
        self.loading: set[str] = set()            # the data sets it was told to load (warm)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, command: dict) -> bool:
        try:
            self.proc.stdin.write((json.dumps(command) + "\n").encode())
            self.proc.stdin.flush()
            return True
        except (OSError, ValueError, AttributeError):      # it died: lost() will notice and report its jobs
            return False


class LocalBackend:
    """Backend (backend.py) over a pool of `processes` training processes sharing `cores` cores."""

    def __init__(self, log_dir: Path, processes: int = 0, cores: int = 0, device: str = "cpu",
                 niceness: int = 10) -> None:
        self.cores = cores or os.cpu_count() or 1
        self.pool = [TrainingProcess(i) for i in range(processes or self.cores)]
        self.log_dir, self.device, self.niceness = Path(log_dir), device, niceness
        self.lock = threading.Lock()

    def start(self, run_dir: Path) -> str:
        with self.lock:
            target = min(self.pool, key=lambda p: (len(p.jobs), not p.alive, p.index))
            if not target.alive:
                self._launch(target)
            target.jobs.add(Path(run_dir))
            target.send({"add": str(run_dir)})
            self._share_cores()
        return "local"

    def warm(self, datasets=()) -> int:
        """Start every process slot not running yet, each loading these built-in data sets, so that the next
        Start does not wait for a process to import torch and read its data (the Train tab calls this when
        it is opened; a class presses Start soon after). Returns how many processes are running."""
        with self.lock:
            for p in self.pool:
                if not p.alive:
                    self._launch(p)
                for name in set(datasets) - p.loading:       # each set once per process, a new one when asked
                    if p.send({"load": name}):
                        p.loading.add(name)
            return sum(p.alive for p in self.pool)

    def release_idle(self, idle_s: float = IDLE_RELEASE_S) -> None:
        """A process with no job for idle_s seconds exits (end of its input), giving its memory back; the
        next job or warm() starts a new one."""
        now = time.monotonic()
        with self.lock:
            for p in self.pool:
                if p.alive and not p.jobs and now - p.idle_since >= idle_s:
                    try:
                        p.proc.stdin.close()
                    except OSError:
                        pass
                    p.proc = None

    def control(self, run_dir: Path, control: Control) -> None:
        control.write(run_dir)

    def view(self, run_dir: Path) -> dict:
        return read_json(Path(run_dir) / LIVE_NAME)

    def ended(self, run_dir: Path) -> None:
        with self.lock:
            for p in self.pool:
                if Path(run_dir) in p.jobs:
                    p.jobs.discard(Path(run_dir))
                    p.idle_since = time.monotonic()
            self._share_cores()

    def lost(self) -> list[Path]:
        out = []
        with self.lock:
            for p in self.pool:
                if p.proc is not None and not p.alive:
                    out += sorted(p.jobs)
                    p.jobs.clear()
                    p.proc = None
            if out:
                self._share_cores()
        return out

    def rss_bytes(self) -> int:
        """The training processes' resident memory, together (Linux /proc; 0 elsewhere)."""
        total = 0
        for p in self.pool:
            if p.alive:
                try:
                    pages = int(Path(f"/proc/{p.proc.pid}/statm").read_text().split()[1])
                    total += pages * os.sysconf("SC_PAGE_SIZE")
                except (OSError, ValueError, IndexError):
                    pass
        return total

    def shutdown(self, grace_s: float = 3.0) -> None:
        """End of input tells each process to checkpoint every job and exit; the ones still there are ended."""
        with self.lock:
            running = [p for p in self.pool if p.alive]
            for p in running:
                try:
                    p.proc.stdin.close()
                except OSError:
                    pass
        deadline = time.monotonic() + grace_s
        for p in running:
            try:
                p.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.proc.terminate()

    # ------------------------------------------------------------ inside
    def _launch(self, p: TrainingProcess) -> None:
        env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TQDM_DISABLE": "1",
                            "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"training-process-{p.index}.log", "ab") as log:
            p.proc = subprocess.Popen([sys.executable, "-m", "model", "worker", "--pool"], cwd=PACKAGE_ROOT,
                                      env=env, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                      preexec_fn=functools.partial(lower_priority, self.niceness))
        p.threads, p.idle_since, p.loading = 0, time.monotonic(), set()

    def _share_cores(self) -> None:
        """Each busy process gets an equal share of the cores (at least one thread)."""
        busy = [p for p in self.pool if p.alive and p.jobs]
        for p in busy:
            share = max(1, self.cores // len(busy))
            if share != p.threads and p.send({"threads": share}):
                p.threads = share


def lower_priority(niceness: int) -> None:
    """In the training process, before it starts: its own session (Ctrl-C on the server does not reach it;
    the service stops it and it checkpoints), then niced. With Linux's autogroups (sched_autogroup_enabled) a
    new session is a new scheduling group whose share a plain nice cannot lower: the group is niced too."""
    os.setsid()
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(niceness))
    except OSError:                  # no autogroups (another kernel, another OS): the plain nice is enough
        pass
    os.nice(niceness)
