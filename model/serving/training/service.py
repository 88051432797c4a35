"""The training service: which live-training jobs run, who may control them, and what every page sees.

A job is a run folder under the runs root (outside weights/): job.json (what to train), control.json,
live.json, the checkpoint, and the weights folder's files once a snapshot exists (model.training.control).
Where jobs train is the backend's business (backend.py; local.py by default: a pool of training processes).
Up to max_running jobs train at once, sharing the machine; up to max_queue more wait their turn. A monitor
thread notices each new view (a stat call per job), registers new snapshots as models, ends finished jobs,
and starts lost ones again from their checkpoints.
"""
from __future__ import annotations

import base64
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open

from ...nets.limits import ExplorerError
from ...store.pictures import base64_of
from ...store.weights import atomic_write
from ...training.control import DATA_NAME, JOB_NAME, LIVE_NAME, TERMINAL, Control, read_json, write_json_compact
from ...training.run import CHECKPOINT_NAME
from . import access
from .backend import Backend
from .local import LocalBackend
from .publishing import Publisher
from .settings import BETA_RANGE, LR_RANGE, SECONDS_RANGE, UPLOAD, batch_for, check_range, checked_settings

MONITOR_EVERY_S = 0.25
MAX_LOST = 2                       # a job whose process is lost more often than this fails (it may be the cause)
TILE_POINTS = 300                  # the class grid's map thumbnail: this many of the held-out means
SPARK_ROWS = 48                    # the class grid's sparkline: this many history rows


@dataclass
class Job:
    id: str                        # public: anyone may watch by it
    token_hash: str
    dir: Path
    settings: dict
    caller: str = ""               # who started it (a page's session, an API client): the per-caller limit
    state: str = "queued"
    message: str = ""
    note: str = ""                 # said beside the state while it trains (e.g. "resumed after …")
    node: str = ""                 # where it trains ("local", or a cluster node)
    lost: int = 0
    model_version: int = 0         # the last snapshot registered as a model
    created: float = field(default_factory=time.time)
    view: dict = field(default_factory=dict)      # live.json as last read
    view_mtime: float = -1.0
    seen_mtime: float = -1.0       # the view the monitor last acted on (a page's poll may have taken it first)
    tile: dict = field(default_factory=dict)      # the class grid's small copy of the view
    tile_taken: float = 0.0                       # when the service took it (the grid's `since` compares this)

    @property
    def model_name(self) -> str:
        s = self.settings
        return f"run-{self.id}-{s['dataset']}-{s['latent_dim']}d"

    @property
    def active(self) -> bool:
        return self.state in ("running", "paused")

    @property
    def unfinished(self) -> bool:
        return self.state not in TERMINAL


class TrainingService:
    """Jobs by id, the queue, the teacher's key, and the monitor thread."""

    def __init__(self, runs_root, registry, max_running: int = 32, max_queue: int = 32, threads: int = 0,
                 device: str = "cpu", niceness: int = 10, processes: int = 0, teacher_key: str | None = None,
                 backend: Backend | None = None, per_caller: int = access.PER_CALLER) -> None:
        self.root = Path(runs_root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_running, self.max_queue, self.per_caller = max_running, max_queue, per_caller
        self.device = device
        self.backend = backend or LocalBackend(self.root / ".processes", processes, threads, device, niceness)
        self.registry = registry
        self.publisher = Publisher(registry, self.root)
        self.teacher_key = access.TeacherKey(teacher_key)
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
        self.publisher.reload_zips()
        for d in sorted(p for p in self.root.iterdir() if (p / JOB_NAME).is_file()):
            spec = read_json(d / JOB_NAME)
            if not {"id", "token_sha256", "settings"} <= spec.keys():
                continue
            job = Job(spec["id"], spec["token_sha256"], d, spec["settings"], spec.get("caller", ""),
                      created=spec.get("created", 0))
            view = read_json(d / LIVE_NAME)
            job.state, job.message = view.get("state", "stopped"), view.get("message", "")
            if job.state not in TERMINAL:
                job.state, job.message = "stopped", "the server restarted: " + kept(d)
                write_json_compact(d / LIVE_NAME, view | {"state": job.state, "message": job.message})
            self._take_view(job)
            self.jobs[job.id] = job
            self.publisher.snapshot(job, job.view)

    # ------------------------------------------------------------ requests
    def submit(self, settings: dict, data: dict | None = None, caller: str | None = None) -> tuple[str, Job]:
        """Queue a job: (its token, the job). data: train/test arrays for an upload (model.data.intake);
        caller: who asks (at most per_caller unfinished jobs each; None: no limit)."""
        settings = checked_settings(settings)
        refusal = getattr(self.backend, "unavailable", None)         # a backend that may lose its machines
        if refusal is not None and (why := refusal()):
            raise ExplorerError(why)
        if settings["dataset"] == UPLOAD and data is None:
            raise ExplorerError("upload your images first (many files, or one zip)")
        with self.lock:
            unfinished = [j for j in self.jobs.values() if j.unfinished]
            if caller is not None:
                access.check_caller_limit(sum(j.caller == caller for j in unfinished), self.per_caller)
            if len(unfinished) >= self.max_running + self.max_queue:
                waiting = sum(j.state == "queued" for j in unfinished)
                raise ExplorerError(f"the training queue is full ({len(unfinished) - waiting} runs training, "
                                    f"{waiting} waiting); try again when one finishes")
            token, public = access.new_token()
            job = Job(public, access.token_hash(token), self.root / public,
                      settings | {"device": self.device, "batch_size": batch_for(data)}, caller or "")
            job.dir.mkdir(parents=True)
            if data is not None:
                atomic_write(job.dir / DATA_NAME, lambda tmp: save_npz(tmp, data))
            self._write_spec(job)
            Control(beta=settings["beta"], lr=settings["lr"]).write(job.dir)
            self.jobs[public] = job
        self._schedule()
        return token, job

    def warm(self, datasets=()) -> int:
        """Have the training processes started, with these built-in sets in memory, before the first Start
        (a backend without processes to start: nothing to do). Returns how many are ready."""
        warm = getattr(self.backend, "warm", None)
        return warm(tuple(datasets)) if warm is not None else 0

    def load_zip(self, path, name: str) -> str:
        return self.publisher.load_zip(path, name)

    def find(self, ref) -> Job:
        """A job by its public id or its token (watching needs only the id)."""
        ref = str(ref or "")
        with self.lock:
            if ref in self.jobs:
                return self.jobs[ref]
            for job in self.jobs.values():
                if access.same(ref, job.token_hash):
                    return job
        raise ExplorerError("no such training job on this server (it may have been started on another)")

    def controlled(self, token) -> Job:
        """The job this token controls; an id alone (or a wrong token) may only watch."""
        with self.lock:
            for job in self.jobs.values():
                if access.same(token, job.token_hash):
                    return job
        raise ExplorerError(access.NOT_YOURS)

    def set(self, token, beta=None, lr=None, paused=None) -> dict:
        return self._set(self.controlled(token), beta, lr, paused)

    def _set(self, job: Job, beta=None, lr=None, paused=None) -> dict:
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
        self._control(job, **change)
        return self.status(job.id)

    def stop(self, token) -> dict:
        return self._stop_job(self.controlled(token))

    def _stop_job(self, job: Job) -> dict:
        with self.lock:
            if job.state == "queued":
                job.state, job.message = "stopped", "stopped before it started"
                write_json_compact(job.dir / LIVE_NAME, read_json(job.dir / LIVE_NAME) |
                                   {"state": "stopped", "message": job.message})
                self._take_view(job)
        self._control(job, stop=True, paused=False)
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
            meta = checkpoint_meta(job.dir / CHECKPOINT_NAME)
            job.settings["resume"] = meta is not None
            job.settings["budget_from"] = float(meta.get("seconds", 0.0)) if meta else 0.0
            job.state, job.message, job.note, job.lost = "queued", "", "", 0
            self._write_spec(job)
            write_json_compact(job.dir / LIVE_NAME, read_json(job.dir / LIVE_NAME) | {"state": "queued", "message": ""})
            self._take_view(job)
        self._control(job, stop=False, paused=False)
        self._schedule()
        return self.status(job.id)

    def publish(self, token) -> dict:
        """"Explore this model": ask the job for a snapshot now (a finished run already is one). Returns at
        once; the status's "model" names the model once the snapshot is registered."""
        job = self.controlled(token)
        if job.active:
            self._control(job, publish=Control.read(job.dir).publish + 1)
        elif job.model_version == 0:
            raise ExplorerError("this job has no model yet: it has not trained")
        return self.status(job.id)

    # ------------------------------------------------------------ the teacher
    def teacher(self, key, action: str, ref=None) -> dict:
        """The teacher's controls: pause, resume or stop any run; stop every run; clear finished runs off
        the grid (their folders and models stay). Needs the teacher key."""
        self.teacher_key.check(key)
        if action in ("pause", "resume", "stop"):
            job = self.find(ref)
            if action == "stop":
                return self._stop_job(job)
            return self._set(job, paused=action == "pause")
        with self.lock:
            jobs = list(self.jobs.values())
        if action == "stop_all":
            running = [j for j in jobs if j.unfinished]
            for job in running:
                self._stop_job(job)
            return {"stopped": len(running)}
        if action == "clear_finished":
            with self.lock:
                gone = [j.id for j in jobs if not j.unfinished]
                for job_id in gone:
                    self.jobs[job_id].settings["cleared"] = True
                    self._write_spec(self.jobs[job_id])
            return {"cleared": len(gone)}
        raise ExplorerError("teacher actions: pause, resume, stop, stop_all, clear_finished")

    # ------------------------------------------------------------ what pages see
    def status(self, ref) -> dict:
        """The public state of a job: what /train_status returns."""
        job = self.find(ref)
        with self.lock:
            return self._status(job, job.view)

    def _status(self, job: Job, view: dict) -> dict:
        state = job.state
        ahead, model = self.ahead(job), job.model_name if job.model_version else None
        left = view.get("seconds_left", job.settings["seconds"])
        share = view.get("share") or 0.0
        message = job.message or view.get("message", "") or describe(state, ahead)
        if job.note and job.active:
            message = f"{message} ({job.note})"
        sharing = sum(j.active and j.node == job.node for j in self.jobs.values()) - job.active
        return {"job": job.id, "state": state, "step": view.get("step", 0), "sharing": sharing,
                "images_per_s": view.get("images_per_s", 0.0),
                "beta": view.get("beta", job.settings["beta"]), "lr": view.get("lr", job.settings["lr"]),
                "seconds_left": left, "own_seconds": view.get("own_seconds", 0.0),
                "wall_seconds_left": round(left / share, 1) if share > 0 and job.active else None,
                "knn": view.get("knn"), "name": job.settings.get("name", ""), "node": job.node or None,
                "history": view.get("history", []), "marks": view.get("marks", []), "model": model,
                "model_version": job.model_version,
                "queue_position": ahead, "message": message,
                "settings": {k: job.settings[k] for k in ("dataset", "latent_dim", "size", "seconds", "kl_warmup")}}

    def live(self, ref, since_step: int = -1, seen: float | None = None) -> dict:
        """For the live view: the status with only the history rows after since_step, and the pictures
        unless the page has seen this update already (`seen`: the update's time it last got)."""
        job = self.find(ref)
        with self.lock:
            self._take_view(job)
            view = job.view
            out = self._status(job, view)
        out["history"] = [r for r in out["history"] if r["step"] > since_step]
        out["updated"] = view.get("updated")
        if seen is None or out["updated"] != seen:
            for key in ("kl_per_dim", "map", "recon", "prior", "originals"):
                out[key] = view.get(key)
        return out

    def class_view(self, since: float | None = None) -> dict:
        """Every run on the server for the class grid, newest last: each tile whole when it changed after
        `since` (the page's last "now"), else only its id and time, so that a poll costs little."""
        with self.lock:                           # "now" under the lock: no view is taken between
            now = time.time()
            jobs = sorted((j for j in self.jobs.values() if not j.settings.get("cleared")), key=lambda j: j.created)
            tiles = [self._tile(j) if since is None or j.tile_taken > since
                     else {"job": j.id, "updated": j.tile.get("updated", 0)} for j in jobs]
        return {"now": now, "teacher": self.teacher_key.set, "runs": tiles}

    def _tile(self, job: Job) -> dict:
        return job.tile | {"job": job.id, "state": job.state, "name": job.settings.get("name", ""),
                           "dataset": job.settings["dataset"], "latent_dim": job.settings["latent_dim"],
                           "message": job.message if job.state == "failed" else ""}

    def watchable(self) -> list[tuple[str, str]]:
        """(label, id) of every job on this server, newest first: anyone may watch."""
        with self.lock:
            jobs = sorted(self.jobs.values(), key=lambda j: -j.created)
            return [(f"{j.id}{': ' + j.settings['name'] if j.settings.get('name') else ''}: "
                     f"{j.settings['dataset']}, {j.settings['latent_dim']}-D, β {j.settings['beta']:g} ({j.state})",
                     j.id) for j in jobs]

    def ahead(self, job: Job) -> int:
        """How many runs must finish or start before this queued one starts (0 once it trains): the queued ones
        before it and, when every place is taken, the run whose place it will have."""
        if job.state != "queued":
            return 0
        with self.lock:
            queued = sorted((j for j in self.jobs.values() if j.state == "queued"), key=lambda j: j.created)
            running = sum(j.active for j in self.jobs.values())
            before = queued.index(job) if job in queued else 0
            return before + (1 if running >= self.max_running > 0 else 0)

    # ------------------------------------------------------------ the monitor
    def _monitor(self) -> None:
        while not self._stop.wait(MONITOR_EVERY_S):
            try:
                self.poll()
            except Exception as e:                    # the monitor must outlive any one job's surprise
                print(f"warning: training monitor: {type(e).__name__}: {e}", file=sys.stderr)

    def poll(self) -> None:
        """One round: lost jobs back in the queue, new views taken, snapshots registered, ended jobs closed,
        and queued jobs started in free places."""
        for run_dir in self.backend.lost():
            self._lost(run_dir)
        if (release_idle := getattr(self.backend, "release_idle", None)) is not None:
            release_idle()
        with self.lock:
            for job in [j for j in self.jobs.values() if j.active]:
                self._take_view(job)
                if job.view_mtime == job.seen_mtime or not job.view:
                    continue                          # nothing new since the monitor last looked
                job.seen_mtime = job.view_mtime
                self.publisher.snapshot(job, job.view)
                state = job.view.get("state")
                if state in TERMINAL:
                    job.state, job.message = state, job.view.get("message", "")
                    self.backend.ended(job.dir)
                elif state in ("running", "paused") and job.view.get("step", 0) is not None:
                    job.state = state
                    if job.message.startswith("starting"):
                        job.message = ""
        self._schedule()

    def _lost(self, run_dir: Path) -> None:
        with self.lock:
            job = next((j for j in self.jobs.values() if j.dir == Path(run_dir)), None)
            if job is None or not job.unfinished:
                return
            job.lost += 1
            step = job.view.get("step", 0)
            if job.lost > MAX_LOST:
                job.state = "failed"
                job.message = f"its training process was lost {job.lost} times (at step {step}): " + kept(job.dir)
                write_json_compact(job.dir / LIVE_NAME, read_json(job.dir / LIVE_NAME) |
                                   {"state": job.state, "message": job.message})
                return
            meta = checkpoint_meta(job.dir / CHECKPOINT_NAME)
            job.settings["resume"] = meta is not None
            job.note = (f"resumed from its checkpoint at step {meta.get('step', 0)} after its training process was "
                        f"lost at step {step}" if meta else f"started again after its training process was lost "
                                                          f"at step {step}, before its first checkpoint")
            job.state, job.message = "queued", ""
            self._write_spec(job)

    def _schedule(self) -> None:
        with self.lock:
            running = sum(j.active for j in self.jobs.values())
            for job in sorted(self.jobs.values(), key=lambda j: (not j.lost, j.created)):
                if running >= self.max_running:
                    break
                if job.state == "queued":
                    job.state, job.message = "running", "starting: loading the data and the model…"
                    job.node = self.backend.start(job.dir)
                    running += 1

    # ------------------------------------------------------------ helpers
    def _take_view(self, job: Job) -> bool:
        """Read live.json again if it changed since the last read (a stat call otherwise). True if it did."""
        try:
            mtime = (job.dir / LIVE_NAME).stat().st_mtime
        except OSError:
            return False
        if mtime == job.view_mtime:
            return False
        view = self.backend.view(job.dir)
        if not view:
            return False
        job.view, job.view_mtime = view, mtime
        job.tile, job.tile_taken = tile_of(view), time.time()
        return True

    def _control(self, job: Job, **change) -> None:
        with self.lock:
            self.backend.control(job.dir, Control.read(job.dir).changed(**change))

    def _write_spec(self, job: Job) -> None:
        write_json_compact(job.dir / JOB_NAME, {"id": job.id, "token_sha256": job.token_hash, "created": job.created,
                                                "caller": job.caller, "settings": job.settings})

    def shutdown(self, grace_s: float = 3.0) -> None:
        """Every job checkpoints and stops (Resume continues it after a restart)."""
        self._stop.set()
        self.backend.shutdown(grace_s)


def tile_of(view: dict) -> dict:
    """The class grid's copy of a view: the numbers, a sparkline of the two terms, a thinned map."""
    rows = view.get("history", [])[-SPARK_ROWS:]
    m = view.get("map") or {}
    return {"updated": view.get("updated", 0), "step": view.get("step", 0), "beta": view.get("beta"),
            "knn": view.get("knn"), "seconds_left": view.get("seconds_left"),
            "recon": [r["recon"] for r in rows], "kl": [r["kl"] for r in rows],
            "map": thin_map(m, TILE_POINTS) if m else None}


def thin_map(m: dict, n: int) -> dict:
    """The first n points of a live map (the held-out set is already in random order), int8 and base64."""
    xy = np.frombuffer(base64.b64decode(m["xy"]), dtype="<i2").reshape(-1, 2)[:n].astype(np.float32)
    labels = np.frombuffer(base64.b64decode(m["labels"]), dtype=np.uint8)[:n]
    reach = max(float(np.abs(xy).max()), 1.0)
    q = np.clip(np.round(xy / reach * 127), -127, 127).astype(np.int8)
    return {"xy": base64_of(q), "labels": base64_of(labels), "n": len(q)}


def describe(state: str, ahead: int) -> str:
    if state == "queued":
        return f"waiting: {ahead} ahead of you" if ahead else "starting…"
    return {"running": "training", "paused": "paused", "done": "done", "stopped": "stopped",
            "failed": "failed"}[state]


def checkpoint_meta(path: Path) -> dict | None:
    """A checkpoint's JSON metadata (its step, its seconds), or None when there is none."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return json.loads(f.metadata()["meta"])
    except (OSError, SafetensorError, KeyError, ValueError, TypeError):
        return None


def checkpoint_step(path: Path) -> int | None:
    meta = checkpoint_meta(path)
    return None if meta is None else int(meta.get("step", 0))


def kept(d: Path) -> str:
    step = checkpoint_step(d / CHECKPOINT_NAME)
    if step is not None:
        return f"its last checkpoint (step {step}) is kept: Resume continues from it"
    return "it had not reached its first checkpoint: Resume starts it again"


def save_npz(tmp: str, data: dict) -> None:
    with open(tmp, "wb") as f:
        np.savez(f, **data)
