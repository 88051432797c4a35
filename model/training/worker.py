"""A training process: `python -m model worker --pool` trains many live jobs at once, taking turns.

The training service (model.serving.training) starts a few of these, about one per core, and hands each
new job to the least loaded one by a line on its standard input ({"add": RUN_DIR}, {"threads": N}, and
{"load": DATA_SET} to have a built-in set in memory before the first job asks); end of input means the
server has gone, and every job checkpoints and stops. `python -m model worker RUN_DIR...`
trains the given jobs and exits when they end.

Within a process the jobs take turns fairly: round robin, each turn about TURN_S seconds of steps. A new job
takes its first step and shows it as soon as the process takes it, before anyone's next turn. Every data set
is loaded once per process and shared by its jobs (the arrays are not copied). Each job is the one training
loop (model.training.loop.run_steps, a generator that yields after every step); its time budget counts its own
steps' time, not the time it waits for its turn, so it means the same amount of training whether one student
trains or thirty. Between turns a job reads the page's controls
(model.training.control.Control: β, learning rate, pause, stop, a snapshot), writes what the live view shows
(model.training.live_view) about once a second, and checkpoints every CHECKPOINT_EVERY_S. A job that fails
(a non-finite loss, unreadable data, no memory) ends alone with its message; the others go on.
"""
from __future__ import annotations

import json
import queue
import sys
import threading
import time
from pathlib import Path

import torch

from ..cli import fail
from ..data import NAMED_SETS, DataError
from ..data.intake import builtin_training_set
from .checkpoints import TrainingError
from .control import CONTROL_NAME, DATA_NAME, JOB_NAME, LIVE_NAME, Control, read_json, write_json_compact
from .live_view import LiveView
from .loop import Run, checkpoint, load_prepared, run_steps, setup, write_weights_folder
from .run import TrainConfig

MODEL_SIZES = {                # the Train tab's "model size": channels per stage, hidden width, residual blocks
    "small": ((16, 32), 64, 0),     # 3,600 images/s on 2 cores: a map within seconds
    "medium": ((32, 64), 128, 1),   # the lab's recipe: sharper, about 2.5x slower
}
BUILTIN = NAMED_SETS           # trained under their own name; emoji and uploads as "prepared" arrays
ROW_EVERY = 5                  # one history row (the mean of this many steps) per ROW_EVERY steps
TURN_S = 0.25                  # one job's turn: steps for about this long, then the next job's
VIEW_EVERY_S = 1.0             # a job's live view at most this often: the page polls twice as often
VIEW_SHARE = 0.15              # ... and, with many jobs, less often: the views take at most this share of the time
CONTROL_EVERY_S = 0.2          # how often a paused job's control.json is looked at (a stat call)
CHECKPOINT_EVERY_S = 10.0      # a SIGKILL loses at most this much of a job's training
KL_WARMUP_STEPS = 200          # the KL weight ramps from 0 over this many steps when warm-up is on
LR_WARMUP_STEPS = 20
SNAPSHOT_TEST_IMAGES = 1000    # a live run's model (and each epoch) is measured on this many test images (the
                               # other jobs wait meanwhile)


def job_config(job: dict, run_dir: Path) -> TrainConfig:
    """The job's settings as the loop's TrainConfig."""
    widths, hidden, res_blocks = MODEL_SIZES[job["size"]]
    builtin = job["dataset"] in BUILTIN
    return TrainConfig(
        out=str(run_dir), dataset=job["dataset"] if builtin else "prepared",
        data_npz=None if builtin else str(run_dir / DATA_NAME), latent_dim=job["latent_dim"],
        beta=job["beta"], lr=job["lr"], epochs=100_000, batch_size=job.get("batch_size", 128), widths=widths,
        hidden=hidden, res_blocks=res_blocks, map="auto" if job["latent_dim"] == 2 else "pca", iwae_k=10,
        seed=job.get("seed", 0), device=job.get("device", "cpu"), resume=bool(job.get("resume")), progress=False,
        epoch_test_images=SNAPSHOT_TEST_IMAGES)     # the model card's per-epoch test curve, quick as a snapshot


class DataCache:
    """Each data set once per process: a built-in set by name, an upload by its run folder's file."""

    def __init__(self) -> None:
        self.sets: dict[str, tuple] = {}

    def get(self, job: dict, run_dir: Path) -> tuple:
        name = job["dataset"]
        if name == "upload":
            train, test = load_prepared(run_dir / DATA_NAME)        # a job's own: not kept
            return train, None, test
        if name not in self.sets:
            train, test = builtin_training_set(name)
            self.sets[name] = (train, None, test)
        return self.sets[name]


class LiveJob:
    """One job of a training process: its run, its live view, its controls and its own training clock."""

    def __init__(self, run_dir: Path, data: DataCache) -> None:
        self.dir = Path(run_dir)
        self.job = read_json(self.dir / JOB_NAME).get("settings")
        if not isinstance(self.job, dict):
            raise DataError(f"{self.dir / JOB_NAME}: missing, or not a job's settings")
        self.budget = float(self.job["seconds"])
        self.data = data
        self.run: Run | None = None
        self.view: LiveView | None = None
        self.steps = None
        self.own_s = 0.0                   # training time since the budget began (the budget's clock)
        self.budget_from = float(self.job.get("budget_from", 0.0))   # the run's seconds when it began
        self.sums, self.n = torch.zeros(2, dtype=torch.float64), 0
        self.control = Control()
        self.control_mtime = -1.0
        self.published = 0
        self.state = "running"
        self.t_view = self.t_control = 0.0
        self.share_at: tuple[float, float] | None = None
        self.share_value = 0.0

    # ------------------------------------------------------------ start
    def start(self) -> None:
        previous = read_json(self.dir / LIVE_NAME) if self.job.get("resume") else {}
        write_json_compact(self.dir / LIVE_NAME, previous | {"state": "running",
                                                             "message": "loading the data and the model…"})
        cfg = job_config(self.job, self.dir)
        run = setup(cfg, data=self.data.get(self.job, self.dir))
        spe = run.steps_per_epoch
        cfg.kl_warmup = KL_WARMUP_STEPS / spe if self.job.get("kl_warmup", True) else 0.0
        cfg.lr_warmup = LR_WARMUP_STEPS / spe
        run.checkpoint_gap_s = CHECKPOINT_EVERY_S        # a small set's epochs take a fraction of a second
        run.last_checkpoint = time.monotonic()
        self.own_s = max(0.0, run.seconds - self.budget_from)  # a job resumed after its process was lost
        self.run, self.steps = run, run_steps(run)
        self.view = LiveView(run, self.job, previous, row_every=ROW_EVERY)
        self.control = Control.read(self.dir)
        self.published = self.control.publish
        self.obey()                                      # first_point writes its first view

    # ------------------------------------------------------------ a turn
    def turn(self, seconds: float, min_steps: int = 0) -> bool:
        """Train for about `seconds` (and at least min_steps steps); False when the loop has ended (its last
        epoch: not in a live run)."""
        t0, done = time.perf_counter(), 0
        try:
            while ((spent := time.perf_counter() - t0) < seconds or done < min_steps) and self.left() - spent > 0:
                self.after_step(next(self.steps))
                done += 1
        except StopIteration:
            return False
        finally:
            self.own_s += time.perf_counter() - t0
            self.run.seconds = self.budget_from + self.own_s
        return True

    def after_step(self, step: int) -> None:
        terms = self.run.last_terms
        self.sums += torch.stack([terms["recon"].detach(), terms["kl"].detach()]).double().cpu()
        self.n += 1
        if self.n == ROW_EVERY or not self.view.rows:     # the first row at once: the chart's first live point
            self.view.add_row(step, *(self.sums / self.n).tolist())
            self.sums.zero_()
            self.n = 0

    def first_point(self) -> None:
        """A new job's first step and its numbers at once, before any other job's turn: its student sees the
        chart begin as soon as the process takes the job, however many jobs it trains. The pictures (the map
        of 2,000 held-out means, a tenth of a second) wait for its first turn."""
        if self.state == "running":
            self.turn(0.0, min_steps=1)
        self.write(self.state, pictures=False)

    def left(self) -> float:
        return self.budget - self.own_s

    # ------------------------------------------------------------ between turns
    def obey(self) -> None:
        """Read control.json if it changed: β and lr (marked on the chart), a snapshot, pause, stop."""
        path = self.dir / CONTROL_NAME
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = 0.0
        if mtime == self.control_mtime:
            return
        self.control_mtime, self.control = mtime, Control.read(self.dir)
        cfg, c = self.run.cfg, self.control
        beta, lr = c.beta if c.beta is not None else cfg.beta, c.lr if c.lr is not None else cfg.lr
        if beta != cfg.beta or lr != cfg.lr:
            self.view.mark(self.run.step, cfg.beta, beta, cfg.lr, lr)
        cfg.beta, cfg.lr = beta, lr
        if c.publish > self.published:
            self.published = c.publish
            self.snapshot()
        self.state = "paused" if c.paused and not c.stop else "running"

    def due(self, now: float, view_every: float = VIEW_EVERY_S) -> float:
        """After a turn: the view every view_every seconds, a checkpoint every CHECKPOINT_EVERY_S. Returns the
        seconds the view took (0.0 when none was due)."""
        took = 0.0
        if now - self.t_view >= view_every:
            self.t_view = now
            self.write(self.state)
            took = time.monotonic() - now
        if now - self.run.last_checkpoint >= CHECKPOINT_EVERY_S:
            checkpoint(self.run, self.run.step)
        return took

    def snapshot(self) -> None:
        """"Explore this model", or the run's end: a checkpoint and the weights folder as the model is now."""
        run = self.run
        checkpoint(run, run.step)
        write_weights_folder(run.core, run.cfg, run.test_ds, run.seconds, run.history, run.device,
                             test_limit=SNAPSHOT_TEST_IMAGES)
        run.core.train()
        self.view.published()

    def end(self, state: str, message: str) -> None:
        """Stop (or the budget spent): the checkpoint and the model where it is, then the last view."""
        self.steps.close()
        if self.n:                                       # the steps since the last row: the chart ends where it did
            self.view.add_row(self.run.step, *(self.sums / self.n).tolist())
            self.n = 0
        self.snapshot()
        self.write(state, message)

    def write(self, state: str, message: str = "", pictures: bool = True) -> None:
        self.state = state
        view = self.view.state(state, message, seconds_left=max(0.0, self.left()), own_seconds=self.own_s,
                               pictures=pictures)
        write_json_compact(self.dir / LIVE_NAME, view | {"share": round(self.share(), 3)})

    def share(self) -> float:
        """The share of the machine's time this job has trained for lately: its own training seconds per
        second of the clock (the page turns its own seconds left into a time on the clock with it)."""
        now = time.monotonic()
        if self.state != "running":
            self.share_at = None
            return 0.0
        if self.share_at is None:
            self.share_at = (now, self.own_s)
        t, own = self.share_at
        if now - t >= 2.0:
            self.share_value = 0.5 * self.share_value + 0.5 * (self.own_s - own) / (now - t) if self.share_value \
                else (self.own_s - own) / (now - t)
            self.share_at = (now, self.own_s)
        return self.share_value


def failed(run_dir: Path, error: BaseException) -> None:
    """A job's end by error, with its message (its last view kept); nothing else in the process is touched."""
    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, MemoryError):
        message = "out of memory: try a smaller model or latent size"
    write_json_compact(Path(run_dir) / LIVE_NAME, read_json(Path(run_dir) / LIVE_NAME) |
                       {"state": "failed", "message": message})
    print(f"error: {run_dir}: {message}", file=sys.stderr, flush=True)


class Pool:
    """The jobs of one training process and their turns."""

    def __init__(self) -> None:
        self.jobs: list[LiveJob] = []
        self.data = DataCache()
        self.commands: queue.Queue = queue.Queue()
        self.closing = False
        self.view_s = 0.02                                 # a view's cost lately (seconds; a running mean)

    def view_every(self) -> float:
        """Each job's view period: VIEW_EVERY_S, or longer with many jobs, so that all of their views together
        take at most VIEW_SHARE of the process's time (the rest trains)."""
        running = sum(j.state == "running" for j in self.jobs)
        return max(VIEW_EVERY_S, running * self.view_s / VIEW_SHARE)

    def add(self, run_dir: Path) -> None:
        job = LiveJob(run_dir, self.data)
        try:
            job.start()
            job.first_point()
        except (DataError, TrainingError, OSError, ValueError, KeyError, MemoryError, RuntimeError) as e:
            failed(run_dir, e)
            return
        self.jobs.insert(0, job)                           # a new job's first turn comes first

    def read_commands(self, stream) -> None:
        """Lines of JSON from the server, onto the queue; end of input: the server has gone."""
        for line in stream:
            try:
                self.commands.put(json.loads(line))
            except json.JSONDecodeError:
                continue
        self.commands.put({"close": True})

    def handle(self, command: dict) -> None:
        if "add" in command:
            self.add(Path(command["add"]))
        if command.get("load") in BUILTIN:                 # the data set the next jobs will likely want
            try:
                self.data.get({"dataset": command["load"]}, Path())
            except (DataError, OSError, MemoryError) as e:  # the first job that wants it says why
                print(f"warning: could not load {command['load']}: {e}", file=sys.stderr, flush=True)
        if command.get("threads"):
            torch.set_num_threads(int(command["threads"]))
        if command.get("close"):
            self.closing = True

    def round(self) -> None:
        """One turn each for every running job, then everyone's controls, views and checkpoints."""
        for job in list(self.jobs):
            while not self.commands.empty():
                self.handle(self.commands.get())
            if self.closing:
                return
            self.step_job(job)

    def step_job(self, job: LiveJob) -> None:
        try:
            job.obey()
            if job.control.stop or job.left() <= 0:
                job.end("done" if job.left() <= 0 else "stopped",
                        "done: the budget is spent" if job.left() <= 0 else
                        "stopped: the model is as it was at the last step")
                self.jobs.remove(job)
                return
            if job.state == "running" and not job.turn(TURN_S):
                job.end("done", "done: every epoch trained")
                self.jobs.remove(job)
                return
            took = job.due(time.monotonic(), self.view_every())
            if took:
                self.view_s = 0.8 * self.view_s + 0.2 * took
        except (DataError, TrainingError, OSError, ValueError, MemoryError, RuntimeError) as e:
            failed(job.dir, e)
            self.jobs.remove(job)

    def idle(self) -> None:
        """Nothing to train (none, or all paused): wait for a command or the next control check."""
        try:
            self.handle(self.commands.get(timeout=CONTROL_EVERY_S))
        except queue.Empty:
            pass

    def serve(self, until_empty: bool) -> None:
        while not self.closing:
            if until_empty and not self.jobs:
                return
            if any(j.state == "running" for j in self.jobs):
                self.round()
            else:
                for job in list(self.jobs):
                    self.step_job(job)
                self.idle()
        self.stop_all()

    def stop_all(self) -> None:
        """The server has gone: every job checkpoints where it is and says so (Resume continues it)."""
        for job in self.jobs:
            try:
                checkpoint(job.run, job.run.step)
                job.write("stopped", "the server stopped: its last checkpoint is kept, Resume continues from it")
            except OSError:
                pass


def warm_up() -> None:
    """What every job's start would otherwise wait for once: the optimizer's first use imports
    torch._dynamo (seconds on a slow machine). Commands that arrive meanwhile wait on the queue."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m model worker --pool | RUN_DIR...   (the server writes RUN_DIR/job.json)",
              file=sys.stderr)
        return 2
    pool = Pool()
    if argv == ["--pool"]:
        torch.set_num_threads(1)                   # the service says how many once it knows the load
        warm_up()
        threading.Thread(target=pool.read_commands, args=(sys.stdin,), daemon=True, name="commands").start()
        pool.serve(until_empty=False)
        return 0
    for run_dir in argv:
        if not (Path(run_dir) / JOB_NAME).is_file():
            return fail(DataError(f"{Path(run_dir) / JOB_NAME}: missing or not JSON"))
        pool.add(Path(run_dir))
    pool.serve(until_empty=True)
    return 0
