"""What every training run shares, written once: the VAE's typed TrainConfig (in the manner of nanoGPT's
config dataclasses, instead of an argparse Namespace), the per-epoch shuffle, the resume check, the run
folder's first tidy-up, the time budget, and what a command does with an error. The VAE loop (loop.py), the
GAN (gan.py), the VQ-VAE's prior (prior.py) and the classifier (classifier.py) all use these.
"""
from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path

import torch

from ..cli import fail
from ..data import DataError
from ..store.weights import WeightsError
from .checkpoints import TrainingError

CHECKPOINT_NAME = "checkpoint.safetensors"


@dataclass
class TrainConfig:
    """Everything `python -m model train` takes; the live-training worker builds one directly.

    Mutable on purpose: between two steps the live controls move beta and lr, and the live worker sets
    the warm-ups (in epochs) from its step counts once the data's size is known."""

    out: str
    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    data_npz: str | None = None         # dataset "prepared": train/test arrays the page made (model.data.intake)
    latent_dim: int = 16
    epochs: int = 40
    batch_size: int = 128                # global: all ranks together
    lr: float = 2e-3
    beta: float = 1.0
    recon: str = "bce"
    kind: str = "vae"
    codebook_size: int = 256
    code_dim: int = 4
    snapshots: int = 0
    seed: int = 0
    resume: bool = False
    device: str = "auto"
    image_size: int | None = None
    channels: int | None = None
    widths: tuple[int, ...] = (32, 64)
    res_blocks: int = 1
    hidden: int = 512
    kl_warmup: float = 2.0               # epochs
    lr_warmup: float = 1.0               # epochs
    grad_clip: float = 100.0
    map: str = "auto"
    iwae_k: int = 100
    compile: bool = False
    threads: int = 0
    stream: bool = False
    workers: int = 2
    progress: bool = True                # a progress bar per epoch (off in a training process: no one sees it)
    epoch_test_images: int = 0           # each epoch's test losses on the first this many test images (0: all)

    def __post_init__(self) -> None:
        if isinstance(self.widths, str):
            self.widths = tuple(int(w) for w in self.widths.split(","))
        self.widths = tuple(int(w) for w in self.widths)

    def check(self, world: int = 1) -> None:
        """What can be refused before any data is loaded or any network built."""
        if self.batch_size < 1 or self.epochs < 0 or self.lr <= 0:
            raise TrainingError("--batch-size must be positive, --epochs not negative and --lr positive")
        if self.batch_size % world:
            raise TrainingError(f"--batch-size {self.batch_size} is not divisible by {world} processes")
        if self.stream and self.dataset != "folder":
            raise TrainingError("--stream reads image folders: use it with --dataset folder")
        if self.dataset == "folder" and not self.data_dir:
            raise DataError("--dataset folder needs --data-dir pointing at a folder of images")
        if self.dataset == "prepared" and not self.data_npz:
            raise DataError("--dataset prepared needs --data-npz")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["widths"] = list(self.widths)
        return d


@dataclass
class StepRun:
    """What a run that counts its steps carries between them (the GAN's and the VQ-VAE's prior's): its settings,
    its steps, its training seconds before this process, its history, and the shuffled order of the epoch it is
    in. A subclass says how many training examples there are (n_train)."""

    args: argparse.Namespace
    _: KW_ONLY
    step: int = 0
    seconds: float = 0.0                   # training time before this process
    history: list = field(default_factory=list)
    _order: tuple[int, torch.Tensor] | None = field(default=None, repr=False)

    @property
    def out(self) -> Path:
        return Path(self.args.out)

    @property
    def n_train(self) -> int:
        raise NotImplementedError

    @property
    def steps_per_epoch(self) -> int:
        return self.n_train // self.args.batch_size

    def batch_indices(self, batch_number: int) -> torch.Tensor:
        """The examples of the run's batch_number-th batch (counted from the start of training)."""
        epoch, i = divmod(batch_number, self.steps_per_epoch)
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, epoch_order(self.args.seed, epoch, self.n_train))
        b = self.args.batch_size
        return self._order[1][i * b:(i + 1) * b]


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The shuffled order of epoch `epoch`, seeded from (seed, epoch) alone, so a resumed run sees the same
    batches as an uninterrupted one (every loop here uses this one rule)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def check_resumable(path: Path, same_network: bool, saved_args: dict, args, must_match: tuple[str, ...]) -> None:
    """Refuse to resume a checkpoint trained with another network or other settings that change the result."""
    if not same_network:
        raise TrainingError(f"{path}: was trained with another configuration; use the same arguments, or a new --out")
    get = (lambda k: args.get(k)) if isinstance(args, dict) else (lambda k: getattr(args, k))
    changed = [k for k in must_match if saved_args.get(k) != get(k)]
    if changed:
        raise TrainingError(f"{path}: was trained with other {', '.join(changed)}; use the same values to resume")


def fresh_or_resumed(out: Path, resume: bool) -> bool:
    """The run folder ready: made if missing, temp files of a killed run removed. True when there is a
    checkpoint to resume; a checkpoint without --resume is refused rather than overwritten."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in list(out.glob(".*.tmp")) + list(out.glob("*/.*.tmp")):
        stale.unlink(missing_ok=True)
    path = out / CHECKPOINT_NAME
    if path.exists() and not resume:
        raise TrainingError(f"{path} exists: pass --resume to continue it, or choose a new --out")
    if resume and not path.is_file():
        print(f"no checkpoint at {path}: starting from scratch", flush=True)
    return resume and path.is_file()


class Budget:
    """Stops a run between two steps: when `seconds` (0: no limit) have passed in this process, or on
    SIGTERM / SIGINT (the handlers only set a flag, so the run ends at a step boundary, checkpointed).
    due() says when `every` seconds have passed since the last checkpoint."""

    def __init__(self, seconds: float = 0.0, every: float = 180.0) -> None:
        self.start = self.last = time.monotonic()
        self.seconds, self.every = seconds, every
        self.signal: str | None = None

    def catch_signals(self) -> None:
        def stop(signum, frame):
            self.signal = signal.Signals(signum).name
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def spent(self) -> str | None:
        """Why to stop now (a sentence), or None."""
        if self.signal:
            return f"stopped by {self.signal}"
        if self.seconds and self.elapsed() >= self.seconds:
            return f"time budget of {self.seconds:.0f} s spent"
        return None

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every

    def checkpointed(self) -> None:
        self.last = time.monotonic()


def run_command(work, out, *errors: type[BaseException]) -> int:
    """A training command's exit: 0 when work() returns; a refusal or a training error as one line and 2;
    a write that failed (disk full, permissions) or Ctrl-C says that the last checkpoint is intact."""
    try:
        work()
    except (DataError, TrainingError, WeightsError, *errors) as e:
        return fail(e)
    except OSError as e:           # atomic_write kept the previous checkpoint
        print(f"error: could not write {getattr(e, 'filename', None) or out}: {e.strerror or e}; "
              f"the last checkpoint is intact, continue with --resume", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the last checkpoint is intact; continue with --resume", file=sys.stderr)
        return 130
    return 0
