"""Train a VQ-VAE's learned prior: `python -m model prior WEIGHTS_DIR --out DIR [--seconds S] [--resume]`.

The training and test images are encoded once to their grids of code indices (cached in DIR as
codes-train.npy and codes-test.npy, with the VQ-VAE's hash in codes.json), then a gated PixelCNN
(model.nets.prior) learns p(indices) by cross-entropy with Adam, a short warm-up and cosine decay over
--epochs. Each epoch ends with the test set's negative log-likelihood in nats per image (against the
uniform prior's H*W*log K, 271.7 for 7x7 codes of K = 256), 64 fixed-seed samples decoded by the VQ-VAE
(DIR/samples.png, DIR/samples/epoch-NNN.png) with their sharpness and shape distance to the test set,
the prior itself (DIR/prior.json, DIR/prior.safetensors) and DIR/prior_metrics.json. A checkpoint
(DIR/checkpoint.safetensors) is written at every epoch's end and every --checkpoint-every seconds;
`--resume` continues from it, mid-epoch too, to the same weights as an uninterrupted run.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..analysis.sample_quality import nearest_distances, sharpness_ratio
from ..data import load_dataset
from ..nets.kinds import kind_of
from ..nets.prior import PixelCNNPrior, PriorConfig
from ..nets.vae import ConvVAE
from ..store.companions import save_prior
from ..store.pictures import write_grid
from ..store.weights import WEIGHTS_NAME, atomic_write, load_vae, write_json
from .checkpoints import TrainingError, load_state, save_state
from .loop import lr_at  # the loop's schedule: warm-up, then cosine to 2%
from .run import CHECKPOINT_NAME, Budget, StepRun, check_resumable, fresh_or_resumed, run_command

MUST_MATCH = ("batch_size", "seed", "lr", "epochs", "lr_warmup")
SAMPLES = 64


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m model prior", description=__doc__.splitlines()[0])
    p.add_argument("weights", help="a VQ-VAE's weights folder (e.g. weights/fashion-mnist-vq)")
    p.add_argument("--out", required=True, help="run folder: code cache, checkpoint, samples, the prior")
    p.add_argument("--dataset", choices=("fashion-mnist", "digits"), default="fashion-mnist")
    p.add_argument("--data-dir", default=None, help="folder with the data (see README)")
    p.add_argument("--epochs", type=int, default=10, help="the learning-rate schedule's length")
    p.add_argument("--seconds", type=float, default=0, help="stop (checkpointed) after this long in this process")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-warmup", type=float, default=0.25, help="epochs of linear warm-up")
    default = PriorConfig()
    p.add_argument("--channels", type=int, default=default.channels)
    p.add_argument("--layers", type=int, default=default.layers)
    p.add_argument("--kernel", type=int, default=default.kernel)
    p.add_argument("--first-kernel", type=int, default=default.first_kernel)
    p.add_argument("--embed-dim", type=int, default=default.embed_dim)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=float, default=180.0, help="seconds between mid-epoch checkpoints")
    return p.parse_args(argv)


# ---------------------------------------------------------------- the codes
def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@torch.inference_mode()
def encode_indices(vae: ConvVAE, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    """uint8 (N, C, H, W) -> the code index of every grid position, (N, H'*W') in raster order."""
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(images[i:i + batch]).float().div_(255)
        out.append(vae.quantizer.indices(vae.encoder(x)).numpy())
    return np.concatenate(out).astype(np.int16)


def save_npy(path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array)


def cached_codes(vae: ConvVAE, args) -> tuple[np.ndarray, np.ndarray]:
    """The train and test code grids, from OUT's cache when it was made from this very VQ-VAE."""
    out, stamp = Path(args.out), {"weights": str(Path(args.weights).resolve()), "dataset": args.dataset,
                                  "sha256": file_hash(Path(args.weights) / WEIGHTS_NAME)}
    files = {split: out / f"codes-{split}.npy" for split in ("train", "test")}
    meta = out / "codes.json"
    if meta.is_file() and all(f.is_file() for f in files.values()) and \
            json.loads(meta.read_text()).get("sha256") == stamp["sha256"]:
        return tuple(np.load(files[s], allow_pickle=False) for s in ("train", "test"))
    codes = []
    for split in ("train", "test"):
        t0 = time.time()
        idx = encode_indices(vae, load_dataset(args.dataset, split, args.data_dir).images)
        atomic_write(files[split], lambda tmp, idx=idx: save_npy(tmp, idx))
        print(f"encoded the {split} set to codes {idx.shape} in {time.time() - t0:.1f} s", flush=True)
        codes.append(idx)
    write_json(meta, stamp)
    return tuple(codes)


# ---------------------------------------------------------------- the run
@dataclass
class PriorRun(StepRun):
    vae: ConvVAE
    prior: PixelCNNPrior
    opt: torch.optim.Optimizer
    train_codes: torch.Tensor              # long (N, H*W)
    test_codes: torch.Tensor
    test_images: np.ndarray
    epoch_sum: float = 0.0                 # this epoch's summed train NLL (per image), so far

    @property
    def n_train(self) -> int:
        return len(self.train_codes)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.args.epochs


def setup(args: argparse.Namespace) -> PriorRun:
    if args.threads:
        torch.set_num_threads(args.threads)
    vae = load_vae(args.weights)
    if not kind_of(vae).learned_prior:
        raise TrainingError(f"{args.weights}: a prior over code indices needs a VQ-VAE (kind 'vq'), not {vae.kind!r}")
    resuming = fresh_or_resumed(Path(args.out), args.resume)
    train_codes, test_codes = cached_codes(vae, args)
    cfg = PriorConfig(grid=vae.config.bottleneck, codebook_size=vae.config.codebook_size, channels=args.channels,
                      layers=args.layers, kernel=args.kernel, first_kernel=args.first_kernel,
                      embed_dim=args.embed_dim)
    torch.manual_seed(args.seed)
    prior = PixelCNNPrior(cfg)
    run = PriorRun(args, vae, prior, torch.optim.Adam(prior.parameters(), lr=args.lr),
                   torch.from_numpy(train_codes).long(), torch.from_numpy(test_codes).long(),
                   load_dataset(args.dataset, "test", args.data_dir).images)
    if run.steps_per_epoch == 0:
        raise TrainingError(f"batch size {args.batch_size} is larger than the training set ({len(train_codes)})")
    if resuming:
        restore(run)
    return run


def restore(run: PriorRun) -> None:
    path = run.out / CHECKPOINT_NAME
    meta = load_state(path, {"prior": run.prior}, {"opt": run.opt})
    check_resumable(path, PriorConfig.from_dict(meta["config"]) == run.prior.config, meta["args"], run.args, MUST_MATCH)
    run.step, run.seconds, run.history = meta["step"], meta["seconds"], meta["history"]
    run.epoch_sum = meta["epoch_sum"]
    print(f"resuming from {path} at step {run.step} (epoch {run.step / run.steps_per_epoch:.2f})", flush=True)


def train_step(run: PriorRun) -> float:
    """One batch: mean cross-entropy per position; returns the batch's NLL in nats per image."""
    batch = run.train_codes[run.batch_indices(run.step)]
    for group in run.opt.param_groups:
        group["lr"] = lr_at(run.step, run.total_steps, int(run.args.lr_warmup * run.steps_per_epoch), run.args.lr)
    run.prior.train()
    nll = -run.prior.log_prob(batch).mean()                       # nats per image
    run.opt.zero_grad(set_to_none=True)
    (nll / run.prior.config.positions).backward()                 # per position: the usual scale for Adam
    run.opt.step()
    run.step += 1
    value = nll.item()
    if not math.isfinite(value):
        raise TrainingError(f"the loss became {value} at step {run.step}; the last checkpoint is intact: "
                            f"resume with a lower --lr")
    run.epoch_sum += value
    return value


@torch.no_grad()
def test_nll(run: PriorRun, batch: int = 1000) -> float:
    """The test codes' negative log-likelihood under the prior, nats per image."""
    run.prior.eval()
    total = sum(-run.prior.log_prob(run.test_codes[i:i + batch]).sum().item()
                for i in range(0, len(run.test_codes), batch))
    return total / len(run.test_codes)


@torch.no_grad()
def samples_and_measures(run: PriorRun, epoch: int) -> dict:
    """64 fixed-seed samples decoded by the VQ-VAE: the grid PNGs, their sharpness and shape distance."""
    run.prior.eval()
    idx = run.prior.sample(SAMPLES, torch.Generator().manual_seed(run.args.seed + 4242))
    images = run.vae.decode(run.vae.quantizer.lookup(idx))
    write_grid(images, run.out / "samples" / f"epoch-{epoch:03d}.png")
    write_grid(images, run.out / "samples.png")
    x = images.numpy()
    return {"sharpness": round(sharpness_ratio(x, run.test_images[:1000]), 3),
            "shape_distance": round(float(np.median(nearest_distances(x, run.test_images, shape=True))), 3)}


def checkpoint(run: PriorRun, seconds: float) -> None:
    save_state(run.out / CHECKPOINT_NAME, {"prior": run.prior}, {"opt": run.opt},
               {"step": run.step, "seconds": seconds, "history": run.history, "epoch_sum": run.epoch_sum,
                "config": run.prior.config.to_dict(), "args": vars(run.args)})


def end_epoch(run: PriorRun, epoch: int, steps: int, dt: float, seconds: float) -> dict:
    """Test NLL, samples, the history row, the prior and its metrics, then the checkpoint."""
    cfg = run.prior.config
    row = {"epoch": epoch, "step": run.step, "train_nll": round(run.epoch_sum / run.steps_per_epoch, 3),
           "test_nll": round(test_nll(run), 3), "uniform_nll": round(cfg.uniform_nll(), 3),
           "seconds": round(dt, 1), "images_per_second": round(steps * run.args.batch_size / dt, 1)}
    row |= samples_and_measures(run, epoch)
    run.history.append(row)
    run.epoch_sum = 0.0
    save_prior(run.prior, run.out)
    write_json(run.out / "prior_metrics.json",
               {"test_nll": row["test_nll"], "uniform_nll": row["uniform_nll"], "train_nll": row["train_nll"],
                "nll_unit": "nats per image (all H*W positions)", "epochs": epoch, "seconds": round(seconds, 1),
                "images_per_second": row["images_per_second"], "vq_weights": str(Path(run.args.weights).resolve()),
                "sample_sharpness": row["sharpness"], "sample_shape_distance": row["shape_distance"],
                "parameters": sum(p.numel() for p in run.prior.parameters()), "history": run.history})
    checkpoint(run, seconds)
    print(f"epoch {epoch:3d}/{run.args.epochs}  train NLL {row['train_nll']:7.2f}  test NLL {row['test_nll']:7.2f} "
          f"nats/image (uniform {row['uniform_nll']:.1f})  samples: sharpness {row['sharpness']:.3f}, shape distance "
          f"{row['shape_distance']:.3f}  {row['images_per_second']:5.0f} img/s  {dt:6.1f} s", flush=True)
    return row


def train(args: argparse.Namespace) -> dict:
    run = setup(args)
    budget = Budget(args.seconds, args.checkpoint_every)
    budget.catch_signals()
    spe = run.steps_per_epoch
    print(f"PixelCNN prior: {sum(p.numel() for p in run.prior.parameters()):,} parameters, {run.prior.config}; "
          f"{spe} batches of {args.batch_size} per epoch; writing {run.out}", flush=True)
    reason, steps_here, t_epoch = None, 0, time.monotonic()           # steps_here: this epoch, this process
    while reason is None:
        if run.step >= run.total_steps:
            reason = f"{args.epochs} epochs done"
            break
        train_step(run)
        steps_here += 1
        if run.step % spe == 0:                                      # an epoch ends
            end_epoch(run, run.step // spe, steps_here, time.monotonic() - t_epoch, run.seconds + budget.elapsed())
            budget.checkpointed()
            steps_here, t_epoch = 0, time.monotonic()
        elif steps_here % 50 == 0:
            ips = steps_here * args.batch_size / (time.monotonic() - t_epoch)
            print(f"  step {run.step:6d}  epoch {run.step / spe:6.2f}  train NLL so far "
                  f"{run.epoch_sum / (run.step % spe):7.2f}  {ips:5.0f} img/s", flush=True)
        reason = budget.spent()
        if budget.due() and reason is None:
            checkpoint(run, run.seconds + budget.elapsed())
            budget.checkpointed()
    if run.step % spe:
        checkpoint(run, run.seconds + budget.elapsed())
    print(f"{reason}: checkpoint at step {run.step} (epoch {run.step / spe:.2f}); continue with --resume", flush=True)
    return {"step": run.step, "history": run.history, "reason": reason}


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_command(lambda: train(args), args.out, ValueError)
