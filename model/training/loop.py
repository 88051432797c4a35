"""Train a ConvVAE: `python -m model train --dataset fashion-mnist --out weights/NAME`.

Runs the same under `torchrun --nproc_per_node=N -m model train ...` (DistributedDataParallel,
gloo on CPU, nccl on GPU). Each epoch ends with an atomic checkpoint in OUT/checkpoint.safetensors;
`--resume` continues from it and reaches the same weights as an uninterrupted run, because every
random draw (init, shuffling, eps) is seeded from (seed, epoch, rank). At the end the weights
folder is written: config.json, model.safetensors, atlas.npz, metrics.json.
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from ..data import DATASETS, DataError, Dataset, FolderSource, load_dataset
from ..nets.config import RECON_LOSSES, VAEConfig
from ..nets.kinds import kind_names, kind_of
from ..nets.losses import elbo_terms
from ..nets.vae import ConvVAE
from ..store.snapshots import SnapshotRecorder
from ..store.weights import load_vae, save_pretrained
from .checkpoints import TrainingError, load_checkpoint, save_checkpoint
from .devices import all_reduce_sum, dist_info, pick_device, setup_distributed
from .run import CHECKPOINT_NAME, TrainConfig, epoch_order, run_command

DEFAULT = VAEConfig()              # the model's defaults are the command line's defaults
QUICK_IWAE_IMAGES = 50             # a live run's snapshot: the typicality IWAE on this many test images


class StopTraining(Exception):
    """Raised by a hook to end a run between two steps (a time budget spent, Stop pressed): the loop
    checkpoints where it is and writes the weights folder, as at the end of the last epoch."""


class Hooks:
    """What a caller may do between steps (the live-training worker, model.training.worker): nothing here.

    after_step may change run.cfg.beta and run.cfg.lr (the next step reads them), block (pause), or
    raise StopTraining."""

    def on_start(self, run: Run) -> None:
        pass

    def after_step(self, run: Run, step: int, terms: dict) -> None:
        pass


def parse_args(argv=None) -> TrainConfig:
    p = argparse.ArgumentParser(prog="python -m model train", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=DATASETS + ("prepared",), default="fashion-mnist",
                   help="prepared: the images in --data-npz")
    p.add_argument("--data-dir", default=None, help="folder with the data (see README)")
    p.add_argument("--latent-dim", type=int, default=DEFAULT.latent_dim)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=128, help="global batch size (all ranks)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--beta", type=float, default=DEFAULT.beta, help="KL weight; 1.0 trains the true ELBO")
    p.add_argument("--recon", choices=RECON_LOSSES, default=DEFAULT.recon)
    p.add_argument("--kind", choices=kind_names(), default=DEFAULT.kind,
                   help="vae; ae: a plain autoencoder (no KL, no noise); vq: a VQ-VAE (codebook)")
    p.add_argument("--codebook-size", type=int, default=256, help="--kind vq: codes in the codebook")
    p.add_argument("--code-dim", type=int, default=DEFAULT.code_dim, help="--kind vq: numbers per code")
    p.add_argument("--snapshots", type=int, default=0,
                   help="record the means of 2,000 test images at this many moments (snapshots.npz)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="weights folder to write")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--image-size", type=int, default=None,
                   help=f"default: the data set's own ({DEFAULT.image_size} for the built-in ones)")
    p.add_argument("--channels", type=int, choices=[1, 3], default=None)
    p.add_argument("--widths", type=str, default=",".join(map(str, DEFAULT.widths)),
                   help="channels per stride-2 stage")
    p.add_argument("--res-blocks", type=int, default=DEFAULT.res_blocks)
    p.add_argument("--hidden", type=int, default=DEFAULT.hidden, help="fully connected width before mu/logvar")
    p.add_argument("--kl-warmup", type=float, default=2.0, help="epochs to ramp the KL weight from 0")
    p.add_argument("--lr-warmup", type=float, default=1.0, help="epochs of linear learning-rate warm-up")
    p.add_argument("--grad-clip", type=float, default=100.0, help="max gradient norm (0: off)")
    p.add_argument("--map", choices=["auto", "umap", "pca"], default="auto",
                   help="2-D map of the test means stored in atlas.npz (auto: umap, or the plane for 2-D)")
    p.add_argument("--iwae-k", type=int, default=100, help="samples for the importance-weighted bound")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (GPU)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--stream", action="store_true",
                   help="--dataset folder: decode images on the fly in worker processes (larger than memory)")
    p.add_argument("--workers", type=int, default=2, help="loader processes for --stream")
    p.add_argument("--data-npz", default=None,
                   help="--dataset prepared: a .npz with uint8 train_images/test_images (N, C, H, W), "
                        "labels and class_names (the Train tab's uploads)")
    return TrainConfig(**vars(p.parse_args(argv)))  # every option is a field


# ---------------------------------------------------------------- schedules
def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up, then cosine decay to 2% of the base rate."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def kl_weight_at(step: int, warmup: int, beta: float) -> float:
    """KL warm-up (Bowman et al. 2016; Sønderby et al. 2016): start near 0 so the decoder learns
    to use z before the KL term can push q(z|x) onto the prior, then hold at beta."""
    return beta if warmup <= 0 else beta * min(1.0, (step + 1) / warmup)


# ---------------------------------------------------------------- the loop
def to_float(batch_u8: torch.Tensor) -> torch.Tensor:
    return batch_u8.float().div_(255.0)


@torch.no_grad()
def evaluate_split(model: ConvVAE, images: torch.Tensor, seed: int, batch: int = 1000,
                   rank: int = 0, world: int = 1) -> dict[str, float]:
    """-ELBO, recon and KL per image over a split (one eps sample each, fixed seed)."""
    was_training = model.training
    model.eval()
    gen = torch.Generator(device=images.device).manual_seed(seed + 7919 * rank)
    sums = torch.zeros(4, dtype=torch.float64, device=images.device)
    shard = images[rank::world]
    for i in range(0, len(shard), batch):
        x = to_float(shard[i:i + batch])
        t = elbo_terms(model, x, beta=1.0, generator=gen)
        n = x.shape[0]
        sums += torch.tensor([t["neg_elbo"].item() * n, t["recon"].item() * n, t["kl"].item() * n, n],
                             dtype=torch.float64, device=images.device)
    all_reduce_sum(sums)
    model.train(was_training)
    n = sums[3].item()
    return {"neg_elbo": sums[0].item() / n, "recon": sums[1].item() / n, "kl": sums[2].item() / n}


def build_config(cfg: TrainConfig, class_names, image_size: int, channels: int) -> VAEConfig:
    return VAEConfig(image_size=image_size, channels=channels, latent_dim=cfg.latent_dim, widths=cfg.widths,
                     res_blocks=cfg.res_blocks, hidden=cfg.hidden, recon=cfg.recon, kind=cfg.kind,
                     beta=cfg.beta if kind_of(cfg.kind).has_sigma else 0.0,
                     codebook_size=cfg.codebook_size if kind_of(cfg.kind).spatial else 0, code_dim=cfg.code_dim,
                     background="white" if cfg.dataset in ("folder", "faces") else "black",
                     class_names=class_names)


class _View(torch.nn.Module):
    """What a training step calls: the model, maybe DDP-wrapped and compiled, with the .config that
    elbo_terms reads (the wrappers hide it)."""

    def __init__(self, fn, config: VAEConfig) -> None:
        super().__init__()
        self.fn, self.config = fn, config

    def forward(self, x, generator=None):
        return self.fn(x, generator=generator)


@dataclass
class Run:
    """Everything a training run carries from one epoch to the next."""

    cfg: TrainConfig
    device: torch.device
    rank: int
    world: int
    core: ConvVAE                          # the model itself: checkpoints, evaluation, export
    opt: torch.optim.Optimizer
    test_ds: Dataset
    train_ds: Dataset | None               # in memory, or
    train_src: FolderSource | None         # decoded on the fly by loader workers (--stream)
    step_model: torch.nn.Module = None     # what a training step calls (_View)
    train_x: torch.Tensor | None = None    # uint8 (N, C, H, W) on the device
    test_x: torch.Tensor | None = None
    start_step: int = 0                    # steps done before this process (resumed)
    step: int = 0                          # steps done so far
    checkpoint_gap_s: float = 0.0          # end-of-epoch checkpoints at most this often (0: every epoch)
    last_checkpoint: float = 0.0           # time.monotonic() of the last one
    hooks: Hooks = field(default_factory=Hooks)
    history: list = field(default_factory=list)
    seconds: float = 0.0                   # training time: the run's own steps, not time it waited its turn
    snapshots: SnapshotRecorder | None = None
    last_terms: dict | None = None         # the last step's loss terms (a live job's chart reads them)

    @property
    def ckpt_path(self) -> Path:
        return Path(self.cfg.out) / CHECKPOINT_NAME

    @property
    def n_train(self) -> int:
        return len(self.train_src if self.train_src is not None else self.train_ds)

    @property
    def local_batch(self) -> int:
        return self.cfg.batch_size // self.world

    @property
    def per_rank(self) -> int:
        return self.n_train // self.world

    @property
    def steps_per_epoch(self) -> int:
        return self.per_rank // self.local_batch

    @property
    def start_epoch(self) -> int:
        return self.start_step // self.steps_per_epoch


def load_data(cfg: TrainConfig) -> tuple[Dataset | None, FolderSource | None, Dataset]:
    """(train set in memory, or a streaming source; test set in memory)."""
    size, channels = cfg.image_size or DEFAULT.image_size, cfg.channels or DEFAULT.channels
    train_ds = train_src = None
    if cfg.stream:
        train_src = FolderSource(cfg.data_dir, "train", size, channels)
    elif cfg.data_npz:
        train_ds, test_ds = load_prepared(cfg.data_npz)
        return train_ds, None, test_ds
    else:
        train_ds = load_dataset(cfg.dataset, "train", cfg.data_dir, size, channels)
        size, channels = train_ds.images.shape[-1], train_ds.images.shape[1]
    return train_ds, train_src, load_dataset(cfg.dataset, "test", cfg.data_dir, size, channels)


def load_prepared(path) -> tuple[Dataset, Dataset]:
    """A set prepared by the page (model.data.intake): train and test images already fitted, in one .npz."""
    try:
        with np.load(path, allow_pickle=False) as z:
            names = tuple(str(c) for c in z["class_names"])
            return (Dataset(z["train_images"], z["train_labels"], names),
                    Dataset(z["test_images"], z["test_labels"], names))
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"{path}: not a prepared training set ({e})") from None


def restore(run: Run, config: VAEConfig) -> None:
    """--resume: model, optimizer, epoch and history from the last checkpoint, if there is one."""
    path = run.ckpt_path
    if run.cfg.resume and path.is_file():
        meta = load_checkpoint(path, run.core, run.opt)
        run.history, run.seconds = meta["history"], meta.get("seconds", 0.0)
        run.start_step = meta.get("step", meta["epoch"] * run.steps_per_epoch)   # older checkpoints: epochs
        run.step = run.start_step
        if VAEConfig.from_dict(meta["config"]) != config:       # fields added since take their defaults
            raise TrainingError(f"{path}: was trained with another configuration; "
                                f"use the same arguments, or a new --out")
        if run.rank == 0:
            print(f"resuming from {path} after step {run.start_step} (epoch {run.start_epoch})")
    elif run.cfg.resume and run.rank == 0:
        print(f"no checkpoint at {path}: starting from scratch")


def setup(cfg: TrainConfig, data: tuple | None = None) -> Run:
    """Device, process group, data, model and optimizer (restored with --resume), wrappers. data: the
    (train, stream, test) sets already in memory (a training process that trains many jobs loads each once)."""
    device = pick_device(cfg.device)
    setup_distributed(device)
    rank, world = dist_info()
    cfg.check(world)                        # before any data is loaded
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    if rank == 0 and out.is_dir():
        for stale in out.glob(".*.tmp"):       # left by a run killed mid-write (kill -9)
            stale.unlink(missing_ok=True)
    train_ds, train_src, test_ds = data or load_data(cfg)
    class_names = (train_src or train_ds).class_names
    config = build_config(cfg, class_names, test_ds.images.shape[-1], test_ds.images.shape[1])
    if kind_of(config).spatial and world > 1:
        raise TrainingError("--kind vq trains in one process (its codebook restarts are not synchronised)")
    torch.manual_seed(cfg.seed)
    core = ConvVAE(config).to(device)
    run = Run(cfg, device, rank, world, core, torch.optim.Adam(core.parameters(), lr=cfg.lr), test_ds,
              train_ds, train_src)
    if run.steps_per_epoch == 0:
        raise TrainingError(f"batch size {cfg.batch_size} is larger than the training set ({run.n_train})")
    restore(run, config)
    if train_ds is not None:
        run.train_x = torch.from_numpy(train_ds.images).to(device)     # shares the array's memory on a CPU
    run.test_x = torch.from_numpy(test_ds.images).to(device)
    if device.type == "cuda":
        core.to(memory_format=torch.channels_last)
    model = core
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            core, device_ids=[device.index] if device.type == "cuda" else None)
    run.step_model = _View(torch.compile(model) if cfg.compile else model, config)
    if cfg.snapshots:
        run.snapshots = SnapshotRecorder(test_ds.images, run.steps_per_epoch * cfg.epochs, cfg.snapshots,
                                         run.steps_per_epoch, seed=cfg.seed)
        if cfg.resume:
            run.snapshots.resume(out)
    return run


def epoch_batches(run: Run, perm: torch.Tensor):
    """This rank's batches, in perm's order: sliced from memory, or decoded by workers."""
    b = run.local_batch
    steps = len(perm) // b
    if run.train_x is not None:
        perm = perm.to(run.device)
        for i in range(steps):
            yield run.train_x[perm[i * b:(i + 1) * b]]
        return
    batches = [perm[i * b:(i + 1) * b].tolist() for i in range(steps)]
    loader = torch.utils.data.DataLoader(run.train_src, batch_sampler=batches, num_workers=run.cfg.workers,
                                         pin_memory=run.device.type == "cuda")
    for xb, _ in loader:
        yield xb.to(run.device, non_blocking=True)


def train_step(run: Run, batch: torch.Tensor, step: int, generator: torch.Generator) -> dict:
    """Forward and backward for one batch (the optimizer steps after the caller's checks)."""
    cfg, total = run.cfg, run.steps_per_epoch * run.cfg.epochs
    for group in run.opt.param_groups:
        group["lr"] = lr_at(step, total, int(cfg.lr_warmup * run.steps_per_epoch), cfg.lr)
    x = to_float(batch)
    if run.device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    beta = kl_weight_at(step, int(cfg.kl_warmup * run.steps_per_epoch), cfg.beta)
    with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=run.device.type == "cuda"):
        t = elbo_terms(run.step_model, x, beta=beta, generator=generator)
    run.opt.zero_grad(set_to_none=True)
    t["loss"].backward()
    if run.core.quantizer is not None and step % 100 == 0:
        run.core.quantizer.restart_unused(generator)        # step 0: the codebook starts on real codes
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(run.core.parameters(), cfg.grad_clip)
    return t


def run_epoch(run: Run, epoch: int):
    """One pass over this rank's shard (the rest of it, when resumed mid-epoch), as a generator that yields
    after every step (a training process that trains many jobs takes turns by it). Its value: the mean train
    (-ELBO, recon, KL) over all ranks and the seconds its steps took. The hooks run after every step."""
    cfg, steps = run.cfg, run.steps_per_epoch
    run.core.train()
    perm = epoch_order(cfg.seed, epoch, run.n_train)[run.rank::run.world][:run.per_rank]
    g_eps = torch.Generator(device=run.device).manual_seed(cfg.seed * 1_000_003 + epoch * 101 + run.rank)
    first = max(0, run.start_step - epoch * steps)          # batches this epoch already trained on
    sums = torch.zeros(3, dtype=torch.float64, device=run.device)
    bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", initial=first,
               disable=run.rank != 0 or not cfg.progress, leave=False, dynamic_ncols=True, mininterval=1.0)
    batches = epoch_batches(run, perm[first * run.local_batch:])
    busy = 0.0
    try:
        for i in range(first, steps):
            t0 = time.perf_counter()
            step = epoch * steps + i
            if run.snapshots is not None and run.rank == 0:
                run.snapshots.maybe_record(run.core, step)
            t = train_step(run, next(batches), step, g_eps)
            sums += torch.stack([t["neg_elbo"].detach(), t["recon"].detach(), t["kl"].detach()]).double()
            if (run.device.type == "cpu" or i % 50 == 49 or i == steps - 1) and not torch.isfinite(sums).all():
                where = run.ckpt_path if run.ckpt_path.exists() else "none yet"
                raise TrainingError(
                    f"loss became {t['loss'].item()} at epoch {epoch + 1}, step {i + 1}: training stopped; "
                    f"the last good checkpoint ({where}) is intact. Try a lower --lr (now {cfg.lr}) or --grad-clip")
            run.opt.step()
            run.step, run.last_terms = step + 1, t
            bar.update()
            if i % 20 == 0 and run.rank == 0:
                bar.set_postfix(loss=f"{sums[0].item() / (i + 1 - first):.2f}")
            busy += time.perf_counter() - t0
            run.hooks.after_step(run, step + 1, t)
            yield step + 1
    finally:
        bar.close()          # clears the bar, so an error is printed on a line of its own
    all_reduce_sum(sums)
    return (sums / (max(1, steps - first) * run.world)).tolist(), busy


def end_epoch(run: Run, epoch: int, tr: list[float], dt: float) -> None:
    """Test-set losses, the history row, the progress line and the checkpoint."""
    cfg = run.cfg
    test_x = run.test_x[:cfg.epoch_test_images] if cfg.epoch_test_images else run.test_x
    te = evaluate_split(run.core, test_x, seed=cfg.seed + 1, rank=run.rank, world=run.world)
    run.seconds += dt
    ips = run.steps_per_epoch * cfg.batch_size / dt
    run.history.append({"epoch": epoch + 1, "train_neg_elbo": tr[0], "train_recon": tr[1], "train_kl": tr[2],
                        "test_neg_elbo": te["neg_elbo"], "test_recon": te["recon"], "test_kl": te["kl"],
                        "seconds": dt, "images_per_second": ips})
    if run.rank == 0:
        if run.snapshots is not None and epoch + 1 == cfg.epochs:
            run.snapshots.maybe_record(run.core, (epoch + 1) * run.steps_per_epoch)
        if run.snapshots is not None:
            run.snapshots.save(cfg.out)
        if not kind_of(run.core).has_kl:   # no KL term, so no ELBO: report the reconstruction alone
            line = f"train recon {tr[1]:8.2f}  test recon {te['recon']:8.2f}"
        else:
            line = (f"train -ELBO {tr[0]:8.2f} (recon {tr[1]:7.2f}, KL {tr[2]:6.2f})"
                    f"  test -ELBO {te['neg_elbo']:8.2f} (recon {te['recon']:7.2f}, KL {te['kl']:6.2f})")
        print(f"epoch {epoch + 1:3d}/{cfg.epochs}  {line}  {ips:6.0f} img/s  {dt:5.1f} s", flush=True)
        if time.monotonic() - run.last_checkpoint >= run.checkpoint_gap_s:
            checkpoint(run, (epoch + 1) * run.steps_per_epoch)
    if run.world > 1:
        dist.barrier()


def checkpoint(run: Run, step: int, extra_seconds: float = 0.0) -> None:
    """The model, the optimizer and where the run is (steps, history) in OUT/checkpoint.safetensors."""
    run.last_checkpoint = time.monotonic()
    save_checkpoint(run.ckpt_path, run.core, run.opt,
                    {"epoch": step // run.steps_per_epoch, "step": step, "history": run.history,
                     "seconds": run.seconds + extra_seconds, "config": run.core.config.to_dict(),
                     "args": run.cfg.to_dict()})


def run_steps(run: Run):
    """The loop over epochs as a generator that yields after every step; its value is the StopTraining that
    ended it early (the checkpoint written where it stopped), or None after the last epoch."""
    for epoch in range(run.start_epoch, run.cfg.epochs):
        t0, busy = time.perf_counter(), 0.0
        steps = run_epoch(run, epoch)
        try:
            while True:                     # yield from, keeping the epoch's own training time so far
                busy_before = time.perf_counter()
                step = next(steps)
                busy += time.perf_counter() - busy_before
                yield step
        except StopIteration as done:
            tr, own = done.value
        except StopTraining as e:
            run.seconds += busy
            if run.rank == 0:
                checkpoint(run, run.step)
            return e
        end_epoch(run, epoch, tr, own if own > 0 else time.perf_counter() - t0)
    return None


def train(cfg: TrainConfig, hooks: Hooks | None = None) -> dict:
    """The one training loop (the CLI, the lab and the live-training worker). A hook that raises
    StopTraining ends it early: the checkpoint and the weights folder are written where it stopped."""
    run = setup(cfg)
    if hooks is not None:
        run.hooks = hooks
    run.hooks.on_start(run)
    steps = run_steps(run)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            stopped = done.value
            break
    if run.rank == 0:
        write_weights_folder(run.core, cfg, run.test_ds, run.seconds, run.history, run.device)
    if run.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return {"epochs": cfg.epochs, "seconds": run.seconds, "history": run.history,
            "stopped": str(stopped) if stopped else None}


def write_weights_folder(model: ConvVAE, cfg: TrainConfig, test_ds, seconds: float, history: list, device,
                         test_limit: int | None = None) -> None:
    """Write the weights folder: model, atlas (map of the test set), metrics. test_limit: a quick snapshot on
    the first this many test images (a live run's, which must not hold up the runs training beside it)."""
    from ..store.weights import write_metrics
    from .evaluate import build_atlas, compute_metrics, typicality_of

    out = Path(cfg.out)
    save_pretrained(model.eval().to("cpu"), out, half=True)
    model = load_vae(out)          # measure exactly what was shipped (float16 weights)
    quick = test_limit is not None
    if quick and len(test_ds) > test_limit:
        test_ds = Dataset(test_ds.images[:test_limit], test_ds.labels[:test_limit], test_ds.class_names)
    build_atlas(model, test_ds, out, method=cfg.map)
    metrics = (compute_metrics(model, test_ds, iwae_k=cfg.iwae_k, seed=cfg.seed)
               | typicality_of(model, test_ds, **({"iwae_images": QUICK_IWAE_IMAGES} if quick else {})))
    ips = [h["images_per_second"] for h in history]
    metrics.update({"epochs": cfg.epochs, "seconds": round(seconds, 1),
                    "images_per_second": round(float(np.median(ips)), 1) if ips else None,
                    "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
                    "dataset": cfg.dataset, "batch_size": cfg.batch_size, "lr": cfg.lr, "seed": cfg.seed})
    write_metrics(out, metrics)
    if kind_of(model).has_sigma:
        print(f"wrote {out}: test -ELBO {metrics['test_neg_elbo']:.2f} nats, IWAE(k={metrics['iwae_k']}) "
              f"{metrics['test_iwae_nll']:.2f}, active units {metrics['active_units']}/{model.config.latent_dim}")
    else:
        print(f"wrote {out}: test reconstruction {metrics['test_recon']:.2f} nats ({model.kind})")


def main(argv=None) -> int:
    cfg = parse_args(argv)
    return run_command(lambda: train(cfg), cfg.out)
