"""The training service: live-training jobs queued, run in worker processes, watched and controlled.

A job is a run folder under the runs root (outside weights/): job.json (what to train), control.json (what
the page asks: β, learning rate, pause, stop, a snapshot), live.json (what the worker shows), the checkpoint,
and the weights folder files once a snapshot exists. The worker (`python -m model worker DIR`,
model.training.worker) is a separate process, niced and thread-limited, so the server stays responsive and
a crash or SIGKILL there loses at most the last few seconds of training.

Anyone may watch a job by its public id. Controlling it needs its token, an unguessable secret (only its
hash is stored) that only the starter's page and the /train caller receive. One job runs at a time per
server (max_running); the others wait in a queue of bounded length.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open

from ..nets.limits import ExplorerError
from ..store.bundle import unpack_model
from ..store.weights import WeightsError, atomic_write
from ..training.worker import CONTROL_NAME, DATA_NAME, JOB_NAME, LIVE_NAME, MODEL_SIZES, read_json, write_json_compact

PACKAGE_ROOT = Path(__file__).resolve().parents[2]        # where `python -m model` finds the package
DATASET_CHOICES = ("fashion-mnist", "digits", "faces", "emoji", "upload")
LATENT_CHOICES = (2, 4, 8, 16, 32)
BETA_RANGE = (0.0, 20.0)
LR_RANGE = (1e-5, 0.05)
SECONDS_RANGE = (5, 1800)
DEFAULT_SECONDS = 45
TERMINAL = ("done", "stopped", "failed")
MONITOR_EVERY_S = 0.25
LOADED_NAME = "loaded.json"        # beside a model unpacked from a zip: the name it has in the picker


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def checked_settings(spec: dict) -> dict:
    """The job's settings, each checked, with the defaults filled in; ExplorerError names the bad one."""
    out = {"dataset": spec.get("dataset", "fashion-mnist"), "size": spec.get("size", "small"),
           "kl_warmup": bool(spec.get("kl_warmup", True)), "seed": 0}
    if out["dataset"] not in DATASET_CHOICES:
        raise ExplorerError(f"unknown data set {str(out['dataset'])[:40]!r}: "
                            f"choose one of {', '.join(DATASET_CHOICES)}")
    if out["size"] not in MODEL_SIZES:
        raise ExplorerError(f"model size must be one of {', '.join(MODEL_SIZES)}")
    try:
        latent = int(spec.get("latent_dim", 2))
        beta, lr = float(spec.get("beta", 1.0)), float(spec.get("lr", 2e-3))
        seconds = float(spec.get("seconds", DEFAULT_SECONDS))
    except (TypeError, ValueError):
        raise ExplorerError("latent size, β, learning rate and seconds must be numbers") from None
    if latent not in LATENT_CHOICES:
        raise ExplorerError(f"latent size must be one of {', '.join(map(str, LATENT_CHOICES))}, not {latent}")
    check_range("β", beta, BETA_RANGE)
    check_range("learning rate", lr, LR_RANGE)
    check_range("the time budget (seconds)", seconds, SECONDS_RANGE)
    return out | {"latent_dim": latent, "beta": beta, "lr": lr, "seconds": seconds}


def check_range(name: str, value: float, bounds: tuple[float, float]) -> None:
    lo, hi = bounds
    if not np.isfinite(value) or not lo <= value <= hi:
        raise ExplorerError(f"{name} must be between {lo:g} and {hi:g}, not {value:g}")


@dataclass
class Job:
    id: str                        # public: anyone may watch by it
    token_hash: str
    dir: Path
    settings: dict
    state: str = "queued"
    message: str = ""
    proc: subprocess.Popen | None = None
    model_version: int = 0         # the last snapshot registered as a model
    created: float = field(default_factory=time.time)

    @property
    def model_name(self) -> str:
        s = self.settings
        return f"run-{self.id}-{s['dataset']}-{s['latent_dim']}d"


class TrainingService:
    """Jobs by id, the queue, and a monitor thread that starts workers, notices their end and
    registers each new snapshot as a model of the registry (every tab, every page)."""

    def __init__(self, runs_root, registry, max_running: int = 1, max_queue: int = 4, threads: int = 0,
                 device: str = "cpu", niceness: int = 10) -> None:
        self.root = Path(runs_root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.registry = registry
        self.max_running, self.max_queue = max_running, max_queue
        self.threads, self.device, self.niceness = threads, device, niceness
        self.jobs: dict[str, Job] = {}
        self.lock = threading.RLock()
        self.reload()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._monitor, name="training-service", daemon=True)
        self.thread.start()

    # ------------------------------------------------------------ start-up
    def reload(self) -> None:
        """Runs left by an earlier server: their models come back; a job that was queued or running is
        stopped, its last checkpoint kept (Resume continues from it). Loaded model zips come back too."""
        for d in sorted(p for p in self.root.iterdir() if (p / LOADED_NAME).is_file()):
            name = read_json(d / LOADED_NAME).get("name")
            try:
                self.registry.add(str(name), d, source="trained")
            except (WeightsError, ExplorerError, OSError) as e:
                print(f"warning: skipping loaded model {d.name}: {e}", file=sys.stderr)
        for d in sorted(p for p in self.root.iterdir() if (p / JOB_NAME).is_file()):
            spec = read_json(d / JOB_NAME)
            if not {"id", "token_sha256", "settings"} <= spec.keys():
                continue
            job = Job(spec["id"], spec["token_sha256"], d, spec["settings"], created=spec.get("created", 0))
            live = read_json(d / LIVE_NAME)
            job.state = live.get("state", "stopped")
            job.message = live.get("message", "")
            if job.state not in TERMINAL:
                job.state = "stopped"
                job.message = "the server restarted: " + self._kept(d, live)
            self.jobs[job.id] = job
            self._register(job, live)

    # ------------------------------------------------------------ requests
    def submit(self, settings: dict, data: dict | None = None) -> tuple[str, Job]:
        """Queue a job: (its token, the job). data: train/test arrays for an upload (model.data.intake)."""
        settings = checked_settings(settings)
        if settings["dataset"] == "upload" and data is None:
            raise ExplorerError("upload your images first (many files, or one zip)")
        with self.lock:
            waiting = sum(j.state == "queued" for j in self.jobs.values())
            if waiting >= self.max_queue:
                raise ExplorerError(f"the training queue is full ({waiting} jobs waiting); "
                                    f"try again when one finishes")
            token, public = secrets.token_urlsafe(24), secrets.token_hex(4)
            job = Job(public, _hash(token), self.root / public,
                      settings | {"threads": self.threads, "device": self.device, "batch_size": batch_for(data)})
            job.dir.mkdir(parents=True)
            if data is not None:
                atomic_write(job.dir / DATA_NAME, lambda tmp: _save_npz(tmp, data))
            self._write_spec(job)
            write_json_compact(job.dir / CONTROL_NAME, {"beta": settings["beta"], "lr": settings["lr"]})
            self.jobs[public] = job
        self._schedule()
        return token, job

    def load_zip(self, path, name: str) -> str:
        """A model zip (Download this model, from any server) as a model in every page's picker, kept in
        the runs folder so it comes back after a restart. name: already safe (letters, digits, . _ -)."""
        if name in self.registry and self.registry.entry(name).source == "shipped":
            raise ExplorerError(f"{name!r} is the name of a model shipped with this server: rename the zip")
        dest = self.root / f"loaded-{name}-{secrets.token_hex(3)}"
        unpack_model(path, dest)
        write_json_compact(dest / LOADED_NAME, {"name": name})
        self.registry.add(name, dest, source="trained")
        return name

    def find(self, ref) -> Job:
        """A job by its public id or its token (watching needs only the id)."""
        ref = str(ref or "")
        with self.lock:
            if ref in self.jobs:
                return self.jobs[ref]
            h = _hash(ref)
            for job in self.jobs.values():
                if hmac.compare_digest(job.token_hash, h):
                    return job
        raise ExplorerError("no such training job on this server (it may have been started on another)")

    def controlled(self, token) -> Job:
        """The job this token controls; an id alone (or a wrong token) may only watch."""
        h = _hash(str(token or ""))
        with self.lock:
            for job in self.jobs.values():
                if hmac.compare_digest(job.token_hash, h):
                    return job
        raise ExplorerError("only the page (or script) that started this job can control it: its job token "
                            "is needed, and this is not it")

    def set(self, token, beta=None, lr=None, paused=None) -> dict:
        job = self.controlled(token)
        change = {}
        if beta is not None:
            change["beta"] = float(beta)
            check_range("β", change["beta"], BETA_RANGE)
        if lr is not None:
            change["lr"] = float(lr)
            check_range("learning rate", change["lr"], LR_RANGE)
        if paused is not None:
            change["paused"] = bool(paused)
        if job.state == "queued":
            job.settings |= {k: v for k, v in change.items() if k in ("beta", "lr")}
            self._write_spec(job)
        self._control(job, change)
        return self.status(job.id)

    def stop(self, token) -> dict:
        job = self.controlled(token)
        with self.lock:
            if job.state == "queued":
                job.state, job.message = "stopped", "stopped before it started"
                write_json_compact(job.dir / LIVE_NAME, {"state": "stopped", "message": job.message})
        self._control(job, {"stop": True, "paused": False})
        return self.status(job.id)

    def resume(self, token, seconds: float | None = None) -> dict:
        """A finished, stopped or failed job trains on from its last checkpoint, with a fresh budget."""
        job = self.controlled(token)
        with self.lock:
            if job.state not in TERMINAL:
                raise ExplorerError(f"the job is {job.state}; only a finished or stopped one can be resumed")
            if seconds is not None:
                check_range("the time budget (seconds)", float(seconds), SECONDS_RANGE)
                job.settings["seconds"] = float(seconds)
            job.settings["resume"] = (job.dir / "checkpoint.safetensors").is_file()
            job.state, job.message = "queued", ""
            self._write_spec(job)
            live = read_json(job.dir / LIVE_NAME)
            write_json_compact(job.dir / LIVE_NAME, live | {"state": "queued", "message": ""})
        self._control(job, {"stop": False, "paused": False})
        self._schedule()
        return self.status(job.id)

    def publish(self, token) -> dict:
        """"Explore this model": ask the worker for a snapshot now (a finished run already is one)."""
        job = self.controlled(token)
        if job.state in ("running", "paused"):
            n = int(read_json(job.dir / CONTROL_NAME).get("publish", 0)) + 1
            self._control(job, {"publish": n})
        elif job.model_version == 0:
            raise ExplorerError("this job has no model yet: it has not trained")
        return self.status(job.id)

    def status(self, ref) -> dict:
        """The public state of a job: what /train_status returns."""
        job = self.find(ref)
        return self._status(job, read_json(job.dir / LIVE_NAME))

    def _status(self, job: Job, live: dict) -> dict:
        with self.lock:
            state, message = job.state, job.message or live.get("message", "")
            ahead, model = self.ahead(job), job.model_name if job.model_version else None
        return {"job": job.id, "state": state, "step": live.get("step", 0),
                "images_per_s": live.get("images_per_s", 0.0),
                "beta": live.get("beta", job.settings["beta"]), "lr": live.get("lr", job.settings["lr"]),
                "seconds_left": live.get("seconds_left", job.settings["seconds"]),
                "history": live.get("history", []), "marks": live.get("marks", []),
                "model": model,
                "queue_position": ahead, "message": message or self._describe(state, ahead),
                "settings": {k: job.settings[k] for k in ("dataset", "latent_dim", "size", "seconds", "kl_warmup")}}

    def live(self, ref, since_step: int = -1, seen: float | None = None) -> dict:
        """For the live view: the status with only the history rows after since_step, and the pictures
        unless the page has seen this update already (`seen`: the update's time it last got)."""
        job = self.find(ref)
        live = read_json(job.dir / LIVE_NAME)                  # read once: it can hold thousands of rows
        out = self._status(job, live)
        out["history"] = [r for r in out["history"] if r["step"] > since_step]
        out["updated"] = live.get("updated")
        if seen is None or out["updated"] != seen:
            for key in ("kl_per_dim", "map", "recon", "prior", "originals"):
                out[key] = live.get(key)
        return out

    def watchable(self) -> list[tuple[str, str]]:
        """(label, id) of every job on this server, newest first: anyone may watch."""
        with self.lock:
            jobs = sorted(self.jobs.values(), key=lambda j: -j.created)
            return [(f"{j.id}: {j.settings['dataset']}, {j.settings['latent_dim']}-D, β {j.settings['beta']:g} "
                     f"({j.state})", j.id) for j in jobs]

    def ahead(self, job: Job) -> int:
        """How many jobs will run before this queued one starts (0 once it runs)."""
        if job.state != "queued":
            return 0
        queued = sorted((j for j in self.jobs.values() if j.state == "queued"), key=lambda j: j.created)
        running = sum(j.state in ("running", "paused") for j in self.jobs.values())
        return running + queued.index(job)

    # ------------------------------------------------------------ the monitor
    def _monitor(self) -> None:
        while not self._stop.wait(MONITOR_EVERY_S):
            self.poll()

    def poll(self) -> None:
        """One round: notice workers that ended, new snapshots, and start queued jobs in free slots."""
        with self.lock:
            for job in self.jobs.values():
                if job.proc is None:
                    continue
                live = read_json(job.dir / LIVE_NAME)
                self._register(job, live)
                rc = job.proc.poll()
                if rc is None:
                    if live.get("state") in ("running", "paused"):
                        job.state, job.message = live["state"], ""
                    continue
                self._ended(job, rc, live)
        self._schedule()

    def _ended(self, job: Job, rc: int, live: dict) -> None:
        job.proc = None
        if rc == 0:
            job.state, job.message = live.get("state", "done"), live.get("message", "")
        elif rc < 0:
            name = signal.Signals(-rc).name if -rc in signal.valid_signals() else f"signal {-rc}"
            job.state = "failed"
            job.message = f"the worker was killed ({name}) at step {live.get('step', 0)}; " + self._kept(job.dir, live)
        else:
            job.state = "failed"
            job.message = live.get("message") or self._log_tail(job.dir)
        self._register(job, live)                      # the last snapshot is a model before the state says "ended"
        write_json_compact(job.dir / LIVE_NAME, live | {"state": job.state, "message": job.message})

    def _schedule(self) -> None:
        with self.lock:
            running = sum(j.proc is not None for j in self.jobs.values())
            for job in sorted(self.jobs.values(), key=lambda j: j.created):
                if running >= self.max_running:
                    break
                if job.state == "queued" and job.proc is None:
                    self._start(job)
                    running += 1

    def _start(self, job: Job) -> None:
        threads = self.threads or os.cpu_count() or 1
        env = os.environ | {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                            "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
        log = open(job.dir / "worker.log", "ab")
        job.proc = subprocess.Popen([sys.executable, "-m", "model", "worker", str(job.dir)], cwd=PACKAGE_ROOT,
                                    env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    preexec_fn=functools.partial(lower_priority, self.niceness))
        log.close()
        job.state = "running"
        job.message = "starting the worker…"

    # ------------------------------------------------------------ helpers
    def _register(self, job: Job, live: dict) -> None:
        """A new snapshot in the run folder becomes (or refreshes) the model in the picker."""
        version = int(live.get("model_version", 0) or 0)
        if version > job.model_version and (job.dir / "config.json").is_file():
            try:
                self.registry.add(job.model_name, job.dir, source="trained")
            except (WeightsError, ExplorerError, OSError) as e:
                job.message = f"the snapshot could not be opened: {e}"
                return
            job.model_version = version

    def _control(self, job: Job, change: dict) -> None:
        with self.lock:
            write_json_compact(job.dir / CONTROL_NAME, read_json(job.dir / CONTROL_NAME) | change)

    def _write_spec(self, job: Job) -> None:
        write_json_compact(job.dir / JOB_NAME, {"id": job.id, "token_sha256": job.token_hash, "created": job.created,
                                                "settings": job.settings, **job.settings})

    @staticmethod
    def _kept(d: Path, live: dict) -> str:
        step = checkpoint_step(d / "checkpoint.safetensors")
        if step is not None:
            return f"its last checkpoint (step {step}) is kept: Resume continues from it"
        return "it had not reached its first checkpoint: Resume starts it again"

    @staticmethod
    def _log_tail(d: Path) -> str:
        try:
            lines = (d / "worker.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        errors = [ln for ln in lines if ln.startswith("error:")]
        return (errors or lines or ["the worker ended without a message"])[-1][:300]

    @staticmethod
    def _describe(state: str, ahead: int) -> str:
        if state == "queued":
            return f"waiting: {ahead} ahead of you" if ahead else "starting…"
        return {"running": "training", "paused": "paused", "done": "done", "stopped": "stopped",
                "failed": "failed"}[state]

    def shutdown(self, grace_s: float = 3.0) -> None:
        """Ask every worker to stop (each keeps its checkpoint), then end the ones still running."""
        self._stop.set()
        with self.lock:
            running = [j for j in self.jobs.values() if j.proc is not None]
            for job in running:
                self._control(job, {"stop": True, "paused": False})
        deadline = time.monotonic() + grace_s
        for job in running:
            try:
                job.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                job.proc.terminate()


def lower_priority(niceness: int) -> None:
    """In the worker, before it starts: its own session (Ctrl-C on the server does not reach it; the service
    stops it and it checkpoints), then niced. With Linux's autogroups (sched_autogroup_enabled) a new session
    is a new scheduling group whose share a plain nice cannot lower: the group is niced too."""
    os.setsid()
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(niceness))
    except OSError:                  # no autogroups (another kernel, another OS): the plain nice is enough
        pass
    os.nice(niceness)


def batch_for(data: dict | None, batch: int = 128) -> int:
    """128 pictures a step, or for a small upload a quarter of it (a few steps per pass, at least 8 each)."""
    if data is None:
        return batch
    return int(min(batch, max(8, len(data["train_images"]) // 4)))


def checkpoint_step(path: Path) -> int | None:
    """The step a checkpoint was written at (its JSON metadata), or None when there is none."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return int(json.loads(f.metadata()["meta"]).get("step", 0))
    except (OSError, SafetensorError, KeyError, ValueError, TypeError):
        return None


def _save_npz(tmp: str, data: dict) -> None:
    with open(tmp, "wb") as f:
        np.savez(f, **data)
