"""The live-training worker: `python -m model worker RUN_DIR` trains the job RUN_DIR/job.json describes.

It is the one training loop (model.training.loop) with hooks between steps: they read the page's controls
from RUN_DIR/control.json (β, learning rate, pause, stop, "explore this model") and write what the live view
shows to RUN_DIR/live.json about once a second (model.training.live_view). The run folder is a weights folder
too: the checkpoint, and config.json, model.safetensors, atlas.npz and metrics.json once a snapshot is asked
for or the run ends. The server (model.serving.jobs) starts this process niced and thread-limited, and only
reads and writes those files, so a crash or a SIGKILL here never touches it.

The same folder trains under torchrun (`torchrun --nproc_per_node=N -m model worker RUN_DIR`): rank 0 reads
the controls and broadcasts them, and writes the view.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ..cli import fail
from ..data import DataError
from ..data.intake import builtin_training_set
from ..store.weights import atomic_write
from .checkpoints import TrainingError
from .live_view import LiveView
from .loop import Hooks, Run, StopTraining, checkpoint, parse_args, train, write_weights_folder

JOB_NAME, CONTROL_NAME, LIVE_NAME, DATA_NAME = "job.json", "control.json", "live.json", "data.npz"
MODEL_SIZES = {                # the Train tab's "model size": channels per stage, hidden width, residual blocks
    "small": ("16,32", 64, 0),     # 3,600 images/s on 2 cores (issue 21): a map within seconds
    "medium": ("32,64", 128, 1),   # the lab's recipe: sharper, about 2.5x slower
}
BUILTIN = ("fashion-mnist", "digits", "faces")     # read by the loop itself; the rest come as DATA_NAME
ROW_EVERY = 5                  # one history row (the mean of this many steps) per ROW_EVERY steps
VIEW_EVERY_S = 0.7             # the live view's period: the page polls twice as often, so it shows ≥ 1/s
CONTROL_EVERY_S = 0.2          # how often control.json is looked at (a stat call)
CONTROL_EVERY_STEPS = 10       # under torchrun: rank 0 reads it and broadcasts it every this many steps
CHECKPOINT_EVERY_S = 10.0      # a SIGKILL loses at most this much training
KL_WARMUP_STEPS = 200          # the KL weight ramps from 0 over this many steps when warm-up is on
LR_WARMUP_STEPS = 20


def write_json_compact(path: Path, obj) -> None:
    """Atomically (temp + os.replace): the server may read the file at any moment."""
    def w(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, separators=(",", ":"))
    atomic_write(path, w)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}


def training_argv(job: dict, run_dir: Path) -> list[str]:
    """The job as the loop's command line: what `python -m model train` would be given."""
    widths, hidden, res_blocks = MODEL_SIZES[job["size"]]
    data = (["--dataset", job["dataset"]] if job["dataset"] in BUILTIN
            else ["--dataset", "prepared", "--data-npz", str(run_dir / DATA_NAME)])
    return data + [
        "--latent-dim", str(job["latent_dim"]), "--beta", str(job["beta"]), "--lr", str(job["lr"]),
        "--epochs", "100000", "--batch-size", str(job.get("batch_size", 128)),
        "--widths", widths, "--hidden", str(hidden), "--res-blocks", str(res_blocks),
        "--map", "auto" if job["latent_dim"] == 2 else "pca", "--iwae-k", "10", "--seed", str(job.get("seed", 0)),
        "--threads", str(job.get("threads", 0)), "--device", job.get("device", "cpu"),
        "--out", str(run_dir), *(["--resume"] if job.get("resume") else [])]


def prepare_data(job: dict, run_dir: Path) -> None:
    """A built-in set the loop cannot read by name (emoji) becomes RUN_DIR/data.npz, once per run."""
    path = run_dir / DATA_NAME
    if job["dataset"] in BUILTIN or path.is_file():
        return
    train_ds, test_ds = builtin_training_set(job["dataset"])
    arrays = {"train_images": train_ds.images, "train_labels": train_ds.labels, "test_images": test_ds.images,
              "test_labels": test_ds.labels, "class_names": np.array(train_ds.class_names)}

    def w(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    atomic_write(path, w)


class LiveHooks(Hooks):
    """Between steps: the page's controls in, the live view and regular checkpoints out, the budget."""

    def __init__(self, run_dir: Path, job: dict) -> None:
        self.dir, self.job = Path(run_dir), job
        self.budget = float(job["seconds"])
        self.control: dict = {}
        self.control_mtime = 0.0
        self.published = 0                 # "explore this model" requests served (control's "publish")
        self.sums, self.n = torch.zeros(2, dtype=torch.float64), 0
        self.view: LiveView | None = None
        self.prior = read_json(self.dir / LIVE_NAME) if job.get("resume") else {}

    # ------------------------------------------------------------ start
    def on_start(self, run: Run) -> None:
        spe = run.steps_per_epoch
        run.args.kl_warmup = KL_WARMUP_STEPS / spe if self.job.get("kl_warmup", True) else 0.0
        run.args.lr_warmup = LR_WARMUP_STEPS / spe
        run.checkpoint_gap_s = CHECKPOINT_EVERY_S        # a small set's epochs take a fraction of a second
        self.run, self.rank0 = run, run.rank == 0
        self.view = LiveView(run, self.job, self.prior, row_every=ROW_EVERY) if self.rank0 else None
        self.published = int(read_json(self.dir / CONTROL_NAME).get("publish", 0))
        self.t_start = self.t_view = self.t_control = run.last_checkpoint = time.monotonic()
        self.paused_s = 0.0
        if self.rank0:
            self.write("running")

    # ------------------------------------------------------------ every step
    def after_step(self, run: Run, step: int, terms: dict) -> None:
        self.sums += torch.stack([terms["recon"].detach(), terms["kl"].detach()]).double().cpu()
        self.n += 1
        if self.n == ROW_EVERY:
            if self.rank0:
                self.view.add_row(step, *(self.sums / self.n).tolist())
            self.sums.zero_()
            self.n = 0
        now = time.monotonic()
        if run.world > 1:                  # every rank must reach the broadcast at the same step
            if step % CONTROL_EVERY_STEPS == 0:
                self.obey(run, step)
        elif now - self.t_control >= CONTROL_EVERY_S:
            self.t_control = now
            self.obey(run, step)
        if self.rank0 and now - self.t_view >= VIEW_EVERY_S:
            self.t_view = now
            self.write("running")
        if self.rank0 and now - run.last_checkpoint >= CHECKPOINT_EVERY_S:
            checkpoint(run, step)

    def elapsed(self) -> float:
        return time.monotonic() - self.t_start - self.paused_s

    def decisions(self, run: Run) -> list[float]:
        """[β, lr, pause, stop, publish] from control.json and the budget (rank 0), shared with every rank."""
        path = self.dir / CONTROL_NAME
        if self.rank0:
            try:
                mtime = path.stat().st_mtime
            except OSError:
                mtime = 0.0
            if mtime != self.control_mtime:
                self.control_mtime, self.control = mtime, read_json(path)
        c = self.control
        out = [float(c.get("beta", run.args.beta)), float(c.get("lr", run.args.lr)), float(bool(c.get("paused"))),
               float(bool(c.get("stop")) or self.elapsed() >= self.budget), float(c.get("publish", 0))]
        if run.world > 1:
            t = torch.tensor(out, dtype=torch.float64, device=run.device)
            dist.broadcast(t, 0)
            out = t.tolist()
        return out

    def obey(self, run: Run, step: int) -> None:
        beta, lr, paused, stop, publish = self.decisions(run)
        if self.rank0 and (beta != run.args.beta or lr != run.args.lr):
            self.view.mark(step, run.args.beta, beta, run.args.lr, lr)
        run.args.beta, run.args.lr = beta, lr
        if int(publish) > self.published:
            self.published = int(publish)
            self.publish(run, step)
        if paused and not stop:
            self.pause(run, step)
            return
        if stop:
            raise StopTraining("stopped" if self.elapsed() < self.budget else "done")

    def pause(self, run: Run, step: int) -> None:
        """Hold between two steps until Resume or Stop; the paused time does not count against the budget."""
        t0 = time.monotonic()
        if self.rank0:
            self.write("paused")
        while True:
            time.sleep(CONTROL_EVERY_S)
            _, _, paused, stop, publish = self.decisions(run)
            if int(publish) > self.published:
                self.published = int(publish)
                self.publish(run, step)
                self.write("paused")
            if not paused or stop:
                break
        self.paused_s += time.monotonic() - t0
        if stop:
            raise StopTraining("stopped")
        if self.rank0:
            self.write("running")

    def publish(self, run: Run, step: int) -> None:
        """"Explore this model": the weights folder as it is now (the run folder), and a checkpoint."""
        if not self.rank0:
            return
        t0 = time.monotonic()
        checkpoint(run, step, extra_seconds=self.elapsed())
        write_weights_folder(run.core, run.args, run.test_ds, run.seconds + self.elapsed(), run.history, run.device)
        run.core.train()
        self.view.published()
        self.paused_s += time.monotonic() - t0            # the snapshot's time is not training time
        self.write("running")

    # ------------------------------------------------------------ out
    def write(self, state: str, message: str = "") -> None:
        left = max(0.0, self.budget - self.elapsed())
        write_json_compact(self.dir / LIVE_NAME, self.view.state(state, message, seconds_left=left))


def finish(hooks: LiveHooks, result: dict) -> None:
    state = result.get("stopped") or "done"
    hooks.view.published()              # train() wrote the weights folder at the end
    hooks.write(state, "stopped: the model is as it was at the last step" if state == "stopped"
                else "done: the budget is spent")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m model worker RUN_DIR   (the server writes RUN_DIR/job.json)", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    job = read_json(run_dir / JOB_NAME)
    if not job:
        return fail(DataError(f"{run_dir / JOB_NAME}: missing or not JSON"))
    hooks = LiveHooks(run_dir, job)
    live = read_json(run_dir / LIVE_NAME)
    write_json_compact(run_dir / LIVE_NAME, live | {"state": "running", "message": "loading the data and the model…"})
    try:
        prepare_data(job, run_dir)
        result = train(parse_args(training_argv(job, run_dir)), hooks=hooks)
    except (DataError, TrainingError, OSError) as e:
        if hooks.view is not None:
            hooks.write("failed", " ".join(str(e).split()))
        else:
            write_json_compact(run_dir / LIVE_NAME, {"state": "failed", "message": " ".join(str(e).split())})
        return fail(e)
    if hooks.view is not None:
        finish(hooks, result)
    return 0
