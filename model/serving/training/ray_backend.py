"""The Ray backend: the class's jobs train on a Ray cluster that is already running (`ray start --head`,
KubeRay, Slurm), found by its address. The app never starts a cluster and never falls back to local training:
an address it cannot reach stops it at start-up with a message (ClusterError). `ray` is imported here only,
and only when the app is started with `--train-backend ray`.

Each training process of the pool is a Ray actor (TrainingActor): model.training.worker's Pool in a thread,
training many jobs in fair turns, exactly as a local training process does. Ray places the actors over the
cluster's nodes (each asks for `cpus` CPUs and `gpus` GPUs, fractions allowed); a new job goes to the actor
with the fewest jobs. No disk is shared: an actor keeps each job's run folder in a temp folder of its own node.
The job's files (job.json, control.json, and on a resume the checkpoint and the last view) go to it by a
method call, an upload's data.npz once through the object store; controls go by method call. A thread here
asks every actor, a few times a second, for the files its jobs changed (the live view, the checkpoint, a
snapshot's weights folder) and writes them into the server's run folder atomically, the view last, so every
tab works on a Ray run as on a local one.

Faults: an actor, or the node under it, that dies takes only its own jobs; they are reported lost and start
again on another actor from their last checkpoint (the server's copy, sent along), and a new actor is asked
for in its place. If every actor is gone (the cluster has disappeared), new jobs are refused with a message;
finished runs stay explorable, since their files are the server's.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...nets.limits import ExplorerError
from ...store.weights import atomic_write
from ...training.control import CONTROL_NAME, DATA_NAME, JOB_NAME, LIVE_NAME, Control, read_json, write_json_compact
from ...training.run import CHECKPOINT_NAME
from ...training.worker import Pool, warm_up

SYNC_EVERY_S = 0.3             # how often the server asks each actor for its jobs' changed files
SYNC_WAIT_S = 1.0              # a sync call not back by then is looked at again on the next round
CALL_TIMEOUT_S = 20.0          # a measure, or the last sync at shutdown
READY_TIMEOUT_S = 60.0         # the pool's actors placed and started at start-up
GCS_PATIENCE_S = 365 * 86400  # how long this driver waits for a lost head before Ray would end it
MAX_FAILED_STARTS = 8          # actors that die before they start are replaced this many times, then no more
CONNECT_TIMEOUT_S = 5.0        # the cluster's address answers a TCP connection
INBOUND = (JOB_NAME, CONTROL_NAME, DATA_NAME)      # files that go to the actor, never back
OUTBOUND_FIRST = (CHECKPOINT_NAME, JOB_NAME, CONTROL_NAME, LIVE_NAME)   # what a (re)start sends to the actor
PACKAGE = Path(__file__).resolve().parents[2]        # the `model` package, shipped to the cluster's workers


class ClusterError(ExplorerError):
    """The Ray cluster cannot be reached, or has no room for the pool."""


class LockedPool(Pool):
    """The worker's Pool, with a lock held around each job's turn and each new job, so that the files a sync
    reads are those of one moment (a snapshot's weights folder whole, its view after it)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def step_job(self, job) -> None:
        with self.lock:
            super().step_job(job)

    def add(self, run_dir: Path) -> None:
        with self.lock:
            super().add(run_dir)


class TrainingActor:
    """One training process of the pool, as a Ray actor: a Pool trained by a thread of its own, and the run
    folders of its jobs in a temp folder of its node."""

    def __init__(self, threads: int) -> None:
        import torch
        torch.set_num_threads(max(1, threads))
        self.root = Path(tempfile.mkdtemp(prefix="vae-ray-runs-"))
        self.pool = LockedPool()
        warm_up()
        self.thread = threading.Thread(target=self.pool.serve, args=(False,), daemon=True, name="pool")
        self.thread.start()

    def node(self) -> str:
        import ray
        return ray.get_runtime_context().get_node_id()

    def add(self, job_id: str, files: dict[str, bytes], data: bytes | None) -> dict[str, int]:
        """A job's files (and an upload's data) into its folder here, then into the pool; returns the files'
        mtimes, so that the first sync sends back only what training changed."""
        d = self.root / job_id
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        for name, blob in files.items():
            write_bytes(d / name, blob)
        if data is not None:
            write_bytes(d / DATA_NAME, data)
        seen = {p.name: p.stat().st_mtime_ns for p in d.iterdir() if p.is_file()}
        self.pool.commands.put({"add": str(d)})
        return seen

    def control(self, job_id: str, control: dict) -> None:
        d = self.root / job_id
        if d.is_dir():
            Control.from_dict(control).write(d)

    def sync(self, seen: dict[str, dict[str, int]]) -> dict[str, dict[str, tuple[int, bytes]]]:
        """For each job asked about, its files changed since `seen` ({job: {name: mtime_ns}}) as (mtime_ns,
        bytes); read under the pool's lock, so no turn writes meanwhile."""
        out: dict[str, dict[str, tuple[int, bytes]]] = {}
        with self.pool.lock:
            for job_id, known in seen.items():
                d = self.root / job_id
                if not d.is_dir():
                    continue
                for p in d.iterdir():
                    if p.name.startswith(".") or p.name in INBOUND or not p.is_file():
                        continue
                    mtime = p.stat().st_mtime_ns
                    if known.get(p.name) != mtime:
                        out.setdefault(job_id, {})[p.name] = (mtime, p.read_bytes())
        return out

    def drop(self, job_id: str) -> None:
        """The server has the job's last files: its folder here goes (unless the job trains again here)."""
        d = self.root / job_id
        with self.pool.lock:
            if all(j.dir != d for j in self.pool.jobs):
                shutil.rmtree(d, ignore_errors=True)

    def close(self, grace_s: float) -> int:
        """Every job checkpoints and says it stopped (the server's last sync takes their files)."""
        self.pool.commands.put({"close": True})
        self.thread.join(grace_s)
        return len(self.pool.jobs)

    def rss_bytes(self) -> int:
        try:
            return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0


def write_bytes(path: Path, blob: bytes) -> None:
    def w(tmp):
        with open(tmp, "wb") as f:
            f.write(blob)
    atomic_write(path, w)


@dataclass
class Actor:
    """The server's record of one actor: its handle, its node once it answered, and its jobs."""

    index: int
    handle: object
    ready: object                              # the ObjectRef of its first node() call
    node: str = ""                             # "" until it has started
    jobs: set = field(default_factory=set)     # job ids
    adding: dict = field(default_factory=dict)  # job id -> the ObjectRef of its add() call, until it returns
    syncing: object = None                     # the ObjectRef of its sync() call out now, if any


class RayBackend:
    """Backend (backend.py) over a pool of Ray actors on an existing cluster at `address`."""

    def __init__(self, address: str | None, actors: int = 0, cpus: float = 1.0, gpus: float = 0.0,
                 ready_timeout_s: float = READY_TIMEOUT_S) -> None:
        self.ray = connect(address)
        ray = self.ray
        self.address = address or os.environ.get("RAY_ADDRESS", "")
        self.remote = ray.remote(TrainingActor)
        self.options = {"num_cpus": cpus, "num_gpus": gpus, "max_restarts": 0, "max_task_retries": 0,
                        "scheduling_strategy": "SPREAD"}
        self.threads = max(1, int(round(cpus)))
        total = ray.cluster_resources().get("CPU", 0.0)
        n = actors or (max(1, int(total // cpus)) if cpus > 0 else 1)
        self.lock = threading.RLock()
        self.dirs: dict[str, Path] = {}           # job id -> the server's run folder
        self.seen: dict[str, dict[str, int]] = {}  # job id -> the files' mtimes on its actor, as last taken
        self.data: dict[str, object] = {}         # job id -> its upload's ObjectRef (put once)
        self.lost_dirs: list[Path] = []
        self.next_index = 0
        self.failed_starts, self.last_error = 0, ""   # actors that died before they started, and why
        self.actors = [self._new_actor() for _ in range(n)]
        ready, _ = ray.wait([a.ready for a in self.actors], num_returns=len(self.actors), timeout=ready_timeout_s)
        self._take_ready()
        if not any(a.node for a in self.actors):
            why = f": {self.last_error}" if self.last_error else (
                f" (each asks for {cpus:g} CPU, {gpus:g} GPU; the cluster has {ray.cluster_resources()}): give it "
                f"room, or ask for less with --ray-cpus")
            raise ClusterError(f"the Ray cluster at {self.address} started none of the {n} training actors within "
                               f"{ready_timeout_s:g} s{why}")
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._sync_loop, name="ray-sync", daemon=True)
        self.thread.start()

    # ------------------------------------------------------------ the Backend interface
    def start(self, run_dir: Path) -> str:
        run_dir = Path(run_dir)
        job_id = run_dir.name
        with self.lock:
            ready = [a for a in self.actors if a.node]
            if not ready:
                fail_view(run_dir, self.unavailable() or "no training actor is running on the Ray cluster")
                return ""
            target = min(ready, key=lambda a: (len(a.jobs), a.index))
            files = {name: (run_dir / name).read_bytes() for name in OUTBOUND_FIRST if (run_dir / name).is_file()}
            if (run_dir / DATA_NAME).is_file() and job_id not in self.data:
                self.data[job_id] = self.ray.put((run_dir / DATA_NAME).read_bytes())    # once, whatever resumes
            self.dirs[job_id] = run_dir
            self.seen.pop(job_id, None)
            target.jobs.add(job_id)
            target.adding[job_id] = target.handle.add.remote(job_id, files, self.data.get(job_id))
            return target.node

    def control(self, run_dir: Path, control: Control) -> None:
        control.write(run_dir)                    # the server's copy: what a resume starts from
        job_id = Path(run_dir).name
        with self.lock:
            actor = self._actor_of(job_id)
            if actor is not None:
                actor.handle.control.remote(job_id, {k: v for k, v in vars(control).items() if v is not None})

    def view(self, run_dir: Path) -> dict:
        return read_json(Path(run_dir) / LIVE_NAME)

    def ended(self, run_dir: Path) -> None:
        job_id = Path(run_dir).name
        with self.lock:
            actor = self._actor_of(job_id)
            if actor is not None:
                actor.jobs.discard(job_id)
                actor.adding.pop(job_id, None)
                actor.handle.drop.remote(job_id)
            self.seen.pop(job_id, None)
            self.data.pop(job_id, None)

    def lost(self) -> list[Path]:
        with self.lock:
            out, self.lost_dirs = self.lost_dirs, []
        return out

    def unavailable(self) -> str | None:
        """Why new jobs are refused now (no actor left on the cluster), or None."""
        with self.lock:
            if any(a.node for a in self.actors):
                return None
        return (f"the Ray cluster at {self.address} has no training actor left (its nodes are gone or it is "
                f"unreachable): new training jobs are refused until it is back; finished runs stay explorable")

    def nodes(self) -> dict[str, int]:
        """Jobs per node now: {node id: jobs}."""
        with self.lock:
            out: dict[str, int] = {}
            for a in self.actors:
                if a.node:
                    out[a.node] = out.get(a.node, 0) + len(a.jobs)
            return out

    def rss_bytes(self) -> int:
        """The actors' resident memory, together."""
        with self.lock:
            refs = [a.handle.rss_bytes.remote() for a in self.actors if a.node]
        try:
            return sum(self.ray.get(refs, timeout=CALL_TIMEOUT_S))
        except Exception:                          # noqa: BLE001 - a measure, not a result: 0 when unknown
            return 0

    def shutdown(self, grace_s: float = 3.0) -> None:
        """Every actor checkpoints its jobs; their last files come back; then the actors go."""
        self._stop.set()
        self.thread.join(CALL_TIMEOUT_S)
        self._sync_once(timeout=CALL_TIMEOUT_S)      # a sync call still out
        with self.lock:
            live = [a for a in self.actors if a.node]
        refs = [a.handle.close.remote(grace_s) for a in live]
        self.ray.wait(refs, num_returns=len(refs), timeout=grace_s + 2)
        self._sync_once(timeout=grace_s + 2)
        for a in self.actors:
            try:
                self.ray.kill(a.handle)
            except Exception:                      # noqa: BLE001 - already gone with its node
                pass
        self.ray.shutdown()

    # ------------------------------------------------------------ inside
    def _new_actor(self) -> Actor:
        handle = self.remote.options(**self.options).remote(self.threads)
        actor = Actor(self.next_index, handle, handle.node.remote())
        self.next_index += 1
        return actor

    def _actor_of(self, job_id: str) -> Actor | None:
        return next((a for a in self.actors if job_id in a.jobs), None)

    def _take_ready(self) -> None:
        """Actors whose first call has returned now take jobs; one that died before is replaced."""
        pending = [a for a in self.actors if not a.node]
        if not pending:
            return
        done, _ = self.ray.wait([a.ready for a in pending], num_returns=len(pending), timeout=0)
        for a in pending:
            if a.ready in done:
                try:
                    a.node = self.ray.get(a.ready)
                except self.ray.exceptions.RayError as e:
                    self.failed_starts += 1
                    self.last_error = " ".join(str(e).split())[:300]
                    self._replace(a, again=self.failed_starts <= MAX_FAILED_STARTS)

    def _sync_loop(self) -> None:
        while not self._stop.wait(SYNC_EVERY_S):
            try:
                self._sync_once(SYNC_WAIT_S)
            except Exception as e:                 # noqa: BLE001 - the sync must outlive any one surprise
                print(f"warning: ray sync: {type(e).__name__}: {e}", file=sys.stderr)

    def _sync_once(self, timeout: float) -> None:
        """Each actor's changed files into the server's run folders; dead actors' jobs reported lost. An actor
        has one sync call out at a time: a slow one (a busy node, or one going) is looked at again next round,
        and holds up no other."""
        ray = self.ray
        with self.lock:
            self._take_ready()
            for a in [a for a in self.actors if a.node]:
                self._take_added(a)
                if a.syncing is None:
                    a.syncing = a.handle.sync.remote({j: self.seen[j] for j in a.jobs if j in self.seen})
            out = [a for a in self.actors if a.syncing is not None]
        if not out:
            return
        done, _ = ray.wait([a.syncing for a in out], num_returns=len(out), timeout=timeout)
        for a in out:
            ref = a.syncing
            if ref not in done:
                continue
            a.syncing = None
            try:
                changed = ray.get(ref)
            except ray.exceptions.RayActorError:
                self._actor_lost(a)
                continue
            for job_id, files in changed.items():
                self._write_back(job_id, files)

    def _take_added(self, a: Actor) -> None:
        """Jobs whose add() has returned are synced from then on; an add that failed loses its job."""
        if not a.adding:
            return
        done, _ = self.ray.wait(list(a.adding.values()), num_returns=len(a.adding), timeout=0)
        for job_id, ref in list(a.adding.items()):
            if ref in done:
                del a.adding[job_id]
                try:
                    self.seen[job_id] = self.ray.get(ref)
                except self.ray.exceptions.RayActorError:
                    pass                           # the actor died: the sync that follows reports it

    def _write_back(self, job_id: str, files: dict[str, tuple[int, bytes]]) -> None:
        """A job's files as the server's: the view last, so that it names only snapshots already here."""
        with self.lock:
            run_dir, seen = self.dirs.get(job_id), self.seen.get(job_id)
        if run_dir is None or seen is None:
            return
        for name in sorted(files, key=lambda n: n == LIVE_NAME):
            mtime, blob = files[name]
            write_bytes(run_dir / name, blob)
            seen[name] = mtime

    def _actor_lost(self, a: Actor) -> None:
        with self.lock:
            if a not in self.actors:
                return
            for job_id in sorted(a.jobs):
                if job_id in self.dirs:
                    self.lost_dirs.append(self.dirs[job_id])
                self.seen.pop(job_id, None)
            print(f"warning: ray: training actor {a.index} on node {a.node[:12]} was lost with "
                  f"{len(a.jobs)} jobs; they resume from their checkpoints", file=sys.stderr)
            self._replace(a)

    def _replace(self, a: Actor, again: bool = True) -> None:
        """A new actor in a dead one's place (it starts once the cluster has room for it); none after too many
        that died before they started (a node image without the app's requirements, say): that is said once."""
        self.actors.remove(a)
        try:
            self.ray.kill(a.handle)
        except Exception:                          # noqa: BLE001 - it is already gone
            pass
        if again:
            self.actors.append(self._new_actor())
        else:
            print(f"warning: ray: a training actor died before it started ({self.last_error}); not replaced",
                  file=sys.stderr)


def fail_view(run_dir: Path, message: str) -> None:
    """The job ends with a message the page shows (the service takes the view as any other)."""
    write_json_compact(Path(run_dir) / LIVE_NAME, read_json(Path(run_dir) / LIVE_NAME) |
                       {"state": "failed", "message": message, "updated": time.time()})


def resolve_address(address: str | None) -> str:
    address = address or os.environ.get("RAY_ADDRESS", "")
    if not address:
        raise ClusterError("--train-backend ray needs the address of a running Ray cluster: --ray-address "
                           "HOST:6379 (or RAY_ADDRESS); `ray start --head` prints it. The app never starts one.")
    return address


def reachable(address: str) -> None:
    """A TCP connection to HOST:PORT (or ray://HOST:PORT) within CONNECT_TIMEOUT_S, or a ClusterError."""
    if address == "auto":
        return                                     # ray.init finds a cluster on this machine, or says none is
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except (OSError, ValueError) as e:
        raise ClusterError(f"cannot reach the Ray cluster at {address} ({e}): start it first (`ray start --head` "
                           f"on its head node) or check --ray-address; the app does not start one, and does not "
                           f"fall back to training here") from None


def connect(address: str | None):
    """ray, connected as a driver to the cluster at `address` (never starting one), with this process's own
    SIGTERM handler kept (ray.init replaces it with one that exits at once)."""
    address = resolve_address(address)
    reachable(address)
    try:
        import ray
    except ImportError:
        raise ClusterError("--train-backend ray needs Ray: pip install -r requirements-ray.txt") from None
    # A driver whose cluster's head (GCS) stays unreachable for 60 s is ended by Ray: this process is the app,
    # which must outlive its cluster (finished runs stay explorable), so it waits for the head instead.
    os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", str(GCS_PATIENCE_S))
    sigterm = signal.getsignal(signal.SIGTERM)
    env = {"py_modules": [str(PACKAGE)], "env_vars": {"OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}}
    try:
        ray.init(address=address, runtime_env=env, logging_level="ERROR", log_to_driver=False,
                 configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
        raise ClusterError(f"cannot connect to the Ray cluster at {address}: {' '.join(str(e).split())}") from None
    finally:
        if sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, sigterm)
    return ray
