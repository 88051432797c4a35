"""Train a ConvVAE: `python -m model.train --dataset fashion-mnist --out weights/NAME`.

Runs the same under `torchrun --nproc_per_node=N -m model.train ...` (DistributedDataParallel,
gloo on CPU, nccl on GPU). Each epoch ends with an atomic checkpoint in OUT/checkpoint.safetensors;
`--resume` continues from it and reaches the same weights as an uninterrupted run, because every
random draw (init, shuffling, eps) is seeded from (seed, epoch, rank). At the end the weights
folder is written: config.json, model.safetensors, atlas.npz, metrics.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from .config import VAEConfig
from .data import DataError, FolderSource, load_dataset
from .io import atomic_write, load_vae, save_pretrained
from .losses import elbo_terms
from .vae import ConvVAE

CHECKPOINT_NAME = "checkpoint.safetensors"
# DDP warns that a 1-channel conv's gradient strides differ from its bucket's: harmless, just slower.
warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, bad checkpoint); the message says why."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["fashion-mnist", "digits", "folder"], default="fashion-mnist")
    p.add_argument("--data-dir", default=None, help="folder with the data (see README)")
    p.add_argument("--latent-dim", type=int, default=16)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=128, help="global batch size (all ranks)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--beta", type=float, default=1.0, help="KL weight; 1.0 trains the true ELBO")
    p.add_argument("--recon", choices=["bce", "mse"], default="bce")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="weights folder to write")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--image-size", type=int, default=None, help="default: the data set's own (28)")
    p.add_argument("--channels", type=int, choices=[1, 3], default=None)
    p.add_argument("--widths", type=str, default="32,64", help="channels per stride-2 stage")
    p.add_argument("--res-blocks", type=int, default=1)
    p.add_argument("--hidden", type=int, default=256)
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
    return p.parse_args(argv)


# ---------------------------------------------------------------- distributed helpers
def dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def setup_distributed(device: torch.device) -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def pick_device(name: str) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise TrainingError("--device cuda asked for, but no CUDA GPU is available")
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


# ---------------------------------------------------------------- checkpoints (no pickle)
def save_checkpoint(path: Path, model: ConvVAE, opt: torch.optim.Optimizer, meta: dict) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    sd = opt.state_dict()
    for idx, st in sd["state"].items():
        for name, val in st.items():
            tensors[f"optim.{idx}.{name}"] = torch.as_tensor(val).detach().cpu().reshape(-1).clone()
    meta = dict(meta, param_groups=sd["param_groups"])
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"meta": json.dumps(meta)}))


def load_checkpoint(path: Path, model: ConvVAE, opt: torch.optim.Optimizer) -> dict:
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()["meta"])
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as e:
        raise TrainingError(f"{path}: unreadable checkpoint ({e}); delete it to start over") from None
    model_sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_sd, strict=True)
    except RuntimeError as e:
        raise TrainingError(f"{path}: does not match this model's configuration ({str(e).splitlines()[0]})") from None
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, idx, name = k.split(".", 2)
            state.setdefault(int(idx), {})[name] = v.reshape(()) if name == "step" else v
    for idx, st in state.items():
        p = opt.param_groups[0]["params"][idx] if len(opt.param_groups) == 1 else None
        if p is not None:
            for name in ("exp_avg", "exp_avg_sq"):
                if name in st:
                    st[name] = st[name].view_as(p).to(p.device)
    opt.load_state_dict({"state": state, "param_groups": meta.pop("param_groups")})
    return meta


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


def build_config(args, class_names, image_size: int, channels: int) -> VAEConfig:
    return VAEConfig(image_size=image_size, channels=channels, latent_dim=args.latent_dim,
                     widths=tuple(int(w) for w in args.widths.split(",")), res_blocks=args.res_blocks,
                     hidden=args.hidden, recon=args.recon, beta=args.beta,
                     background="white" if args.dataset == "folder" else "black",
                     class_names=class_names)


def train(args: argparse.Namespace) -> dict:
    device = pick_device(args.device)
    setup_distributed(device)
    rank, world = dist_info()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    ckpt_path = out / CHECKPOINT_NAME
    if rank == 0 and out.is_dir():
        for stale in out.glob(".*.tmp"):       # left by a run killed mid-write (kill -9)
            stale.unlink(missing_ok=True)

    size, channels = args.image_size or 28, args.channels or 1
    if args.stream:
        if args.dataset != "folder":
            raise TrainingError("--stream reads image folders: use it with --dataset folder")
        if not args.data_dir:
            raise DataError("--dataset folder needs --data-dir pointing at a folder of images")
        train_src = FolderSource(args.data_dir, "train", size, channels)
        n_train, class_names = len(train_src), train_src.class_names
    else:
        train_ds = load_dataset(args.dataset, "train", args.data_dir, size, channels)
        n_train, class_names = len(train_ds), train_ds.class_names
        size, channels = train_ds.images.shape[-1], train_ds.images.shape[1]
    test_ds = load_dataset(args.dataset, "test", args.data_dir, size, channels)
    config = build_config(args, class_names, size, channels)
    if args.batch_size % world:
        raise TrainingError(f"--batch-size {args.batch_size} is not divisible by {world} processes")
    local_batch = args.batch_size // world

    torch.manual_seed(args.seed)
    model = ConvVAE(config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    start_epoch, history, seconds = 0, [], 0.0
    if args.resume and ckpt_path.is_file():
        meta = load_checkpoint(ckpt_path, model, opt)
        start_epoch, history, seconds = meta["epoch"], meta["history"], meta.get("seconds", 0.0)
        if meta["config"] != config.to_dict():
            raise TrainingError(f"{ckpt_path}: was trained with another configuration; "
                                f"use the same arguments, or a new --out")
        if rank == 0:
            print(f"resuming from {ckpt_path} after epoch {start_epoch}")
    elif args.resume and rank == 0:
        print(f"no checkpoint at {ckpt_path}: starting from scratch")

    train_x = None if args.stream else torch.from_numpy(train_ds.images).to(device)  # uint8 (N, C, H, W)
    test_x = torch.from_numpy(test_ds.images).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    core = model
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    step_fn = torch.compile(model) if args.compile else model
    use_bf16 = device.type == "cuda"

    per_rank = n_train // world
    steps_per_epoch = per_rank // local_batch
    if steps_per_epoch == 0:
        raise TrainingError(f"batch size {args.batch_size} is larger than the training set ({n_train})")
    total_steps = steps_per_epoch * args.epochs
    lr_warm = int(args.lr_warmup * steps_per_epoch)
    kl_warm = int(args.kl_warmup * steps_per_epoch)

    class _View(torch.nn.Module):     # elbo_terms reads .config; DDP / compile wrappers hide it
        def __init__(self, fn):
            super().__init__()
            self.fn, self.config = fn, config

        def forward(self, x, generator=None):
            return self.fn(x, generator=generator)

    view = _View(step_fn)

    def epoch_batches(perm: torch.Tensor):
        """This rank's batches, in perm's order: sliced from memory, or decoded by workers."""
        if train_x is not None:
            perm = perm.to(device)
            for i in range(steps_per_epoch):
                yield train_x[perm[i * local_batch:(i + 1) * local_batch]]
            return
        batches = [perm[i * local_batch:(i + 1) * local_batch].tolist() for i in range(steps_per_epoch)]
        loader = torch.utils.data.DataLoader(train_src, batch_sampler=batches, num_workers=args.workers,
                                             pin_memory=device.type == "cuda")
        for xb, _ in loader:
            yield xb.to(device, non_blocking=True)
    for epoch in range(start_epoch, args.epochs):
        t0 = time.time()
        model.train()
        g_shuffle = torch.Generator().manual_seed(args.seed * 100_003 + epoch)
        perm = torch.randperm(n_train, generator=g_shuffle)[rank::world][:per_rank]
        g_eps = torch.Generator(device=device).manual_seed(args.seed * 1_000_003 + epoch * 101 + rank)
        sums = torch.zeros(3, dtype=torch.float64, device=device)
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{args.epochs}",
                   disable=rank != 0, leave=False, dynamic_ncols=True, mininterval=1.0)
        batches = epoch_batches(perm)
        for i in bar:
            step = epoch * steps_per_epoch + i
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total_steps, lr_warm, args.lr)
            x = to_float(next(batches))
            if device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                t = elbo_terms(view, x, beta=kl_weight_at(step, kl_warm, args.beta), generator=g_eps)
            opt.zero_grad(set_to_none=True)
            t["loss"].backward()
            if args.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
            sums += torch.stack([t["neg_elbo"].detach(), t["recon"].detach(), t["kl"].detach()]).double()
            if device.type == "cpu" or i % 50 == 49 or i == steps_per_epoch - 1:
                if not torch.isfinite(sums).all():
                    raise TrainingError(
                        f"loss became {t['loss'].item()} at epoch {epoch + 1}, step {i + 1}: training stopped; "
                        f"the last good checkpoint ({ckpt_path if ckpt_path.exists() else 'none yet'}) is intact. "
                        f"Try a lower --lr (now {args.lr}) or --grad-clip")
            opt.step()
            if i % 20 == 0 and rank == 0:
                bar.set_postfix(loss=f"{sums[0].item() / (i + 1):.2f}")
        bar.close()
        all_reduce_sum(sums)
        tr = (sums / (steps_per_epoch * world)).tolist()
        te = evaluate_split(core, test_x, seed=args.seed + 1, rank=rank, world=world)
        dt = time.time() - t0
        seconds += dt
        ips = steps_per_epoch * args.batch_size / dt
        history.append({"epoch": epoch + 1, "train_neg_elbo": tr[0], "train_recon": tr[1], "train_kl": tr[2],
                        "test_neg_elbo": te["neg_elbo"], "test_recon": te["recon"], "test_kl": te["kl"],
                        "seconds": dt, "images_per_second": ips})
        if rank == 0:
            print(f"epoch {epoch + 1:3d}/{args.epochs}  train -ELBO {tr[0]:8.2f} (recon {tr[1]:7.2f}, KL {tr[2]:6.2f})"
                  f"  test -ELBO {te['neg_elbo']:8.2f} (recon {te['recon']:7.2f}, KL {te['kl']:6.2f})"
                  f"  {ips:6.0f} img/s  {dt:5.1f} s", flush=True)
            save_checkpoint(ckpt_path, core, opt, {"epoch": epoch + 1, "history": history, "seconds": seconds,
                                                   "config": config.to_dict(), "args": vars(args)})
        if world > 1:
            dist.barrier()

    result = {"epochs": args.epochs, "seconds": seconds, "history": history}
    if rank == 0:
        export(core, args, test_ds, seconds, history, device)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return result


def export(model: ConvVAE, args, test_ds, seconds: float, history: list, device) -> None:
    """Write the weights folder: model, atlas (map of the test set), metrics."""
    from .evaluate import build_atlas, compute_metrics, write_metrics

    out = Path(args.out)
    save_pretrained(model.eval().to("cpu"), out, half=True)
    model = load_vae(out)          # measure exactly what was shipped (float16 weights)
    build_atlas(model, test_ds, out, method=args.map)
    metrics = compute_metrics(model, test_ds, iwae_k=args.iwae_k, seed=args.seed)
    ips = [h["images_per_second"] for h in history]
    metrics.update({"epochs": args.epochs, "seconds": round(seconds, 1),
                    "images_per_second": round(float(np.median(ips)), 1) if ips else None,
                    "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
                    "dataset": args.dataset, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed})
    write_metrics(out, metrics)
    print(f"wrote {out}: test -ELBO {metrics['test_neg_elbo']:.2f} nats, IWAE(k={metrics['iwae_k']}) "
          f"{metrics['test_iwae_nll']:.2f}, active units {metrics['active_units']}/{model.config.latent_dim}")


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        train(args)
    except (DataError, TrainingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:           # disk full, permissions: atomic_write kept the previous checkpoint
        print(f"error: could not write {getattr(e, 'filename', None) or args.out}: {e.strerror or e}; "
              f"the last checkpoint is intact, continue with --resume", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the last checkpoint is intact; continue with --resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
