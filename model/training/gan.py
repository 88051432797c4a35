"""Train a GAN whose generator is our decoder: `python -m model gan --out DIR [--seconds S] [--resume]`.

The generator is model.nets.vae.Decoder built from the same VAEConfig as the shipped 16-D Fashion-MNIST
VAE (latent 16, widths 32,64, hidden 512, one residual block), so the two differ only in how they were
trained. Default loss: the non-saturating GAN loss with a spectrally normalised discriminator (Miyato et
al. 2018), one discriminator step per generator step; `--loss wgan-gp` trains WGAN-GP (Gulrajani et al.
2017) with 5 critic steps and a gradient penalty instead, about 7x slower per generator step on a CPU.

Every few minutes (--checkpoint-every) and at the end it writes, atomically: OUT/checkpoint.safetensors
(both networks, both optimizers, the step, the loss history), OUT/samples.png and
OUT/samples/step-NNNNNNN.png (64 fixed-seed samples), OUT/gan.json with OUT/generator.safetensors (what
ships), and the sharpness and shape distance of 256 fixed samples. `--resume` continues from the
checkpoint and reaches the same weights as an uninterrupted run: every random draw (shuffling, z, the
penalty's interpolation) is seeded from (seed, epoch) or (seed, step).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..analysis.sample_quality import nearest_distances, sharpness_ratio
from ..data import load_dataset
from ..nets.config import VAEConfig
from ..nets.gan import GAN_LOSSES, Discriminator, GANConfig, Generator, critic_loss, generator_loss
from ..store.pictures import write_grid
from ..store.weights import atomic_write, write_json
from .checkpoints import TrainingError, load_state, read_checkpoint, save_state
from .devices import describe
from .run import CHECKPOINT_NAME, Budget, StepRun, check_resumable, fresh_or_resumed, run_command

DEFAULTS = {"wgan-gp": {"lr": 1e-4, "beta1": 0.0, "beta2": 0.9, "n_critic": 5},    # Gulrajani, Algorithm 1
            "ns": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "n_critic": 1}}       # Miyato et al. 2018: n_dis = 1
MUST_MATCH = ("batch_size", "seed", "lr", "beta1", "beta2", "n_critic", "gp", "dataset")
QUALITY_DRAWS = 256


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m model gan", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="run folder: checkpoint, sample grids, the generator")
    p.add_argument("--dataset", choices=("fashion-mnist", "digits"), default="fashion-mnist")
    p.add_argument("--data-dir", default=None, help="folder with the data (see README)")
    p.add_argument("--epochs", type=float, default=200, help="passes of the discriminator over the training set")
    p.add_argument("--seconds", type=float, default=0, help="stop (checkpointed) after this long in this process")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--loss", choices=GAN_LOSSES, default="ns")
    p.add_argument("--latent-dim", type=int, default=16)
    p.add_argument("--widths", default="32,64", help="the generator's (decoder's) channels per stride-2 stage")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--res-blocks", type=int, default=1)
    p.add_argument("--disc-widths", default="64,128,256", help="the discriminator's channels per stride-2 conv")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=None, help="Adam's rate, both networks (default: per loss)")
    p.add_argument("--beta1", type=float, default=None)
    p.add_argument("--beta2", type=float, default=None)
    p.add_argument("--n-critic", type=int, default=None, help="discriminator steps per generator step")
    p.add_argument("--gp", type=float, default=10.0, help="wgan-gp: the penalty's weight lambda")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--install", default=None, metavar="DEST",
                   help="instead of training: write OUT's generator as an explorer model folder DEST (kind gan)")
    p.add_argument("--thumbnails-from", default="fashion-mnist",
                   help="with --install: the sibling model folder whose test thumbnails DEST shares")
    p.add_argument("--checkpoint-every", type=float, default=180.0, help="seconds between checkpoints")
    p.add_argument("--log-every", type=int, default=100, help="generator steps per history row")
    args = p.parse_args(argv)
    for key, value in DEFAULTS[args.loss].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def build_config(args, channels: int, image_size: int, class_names) -> GANConfig:
    vae_cfg = VAEConfig(image_size=image_size, channels=channels, latent_dim=args.latent_dim,
                        widths=tuple(int(w) for w in args.widths.split(",")), res_blocks=args.res_blocks,
                        hidden=args.hidden, class_names=class_names)
    return GANConfig(generator=vae_cfg, disc_widths=tuple(int(w) for w in args.disc_widths.split(",")),
                     spectral_norm=args.loss == "ns", loss=args.loss)


@dataclass
class GANRun(StepRun):
    """Everything a GAN run carries from step to step (step: generator steps)."""

    cfg: GANConfig
    gen: Generator
    disc: Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    train_x: torch.Tensor                  # uint8 (N, C, H, W)
    test_x: np.ndarray                     # uint8, for the sample measures
    batches: int = 0                       # real batches the discriminator has seen
    quality: list = field(default_factory=list)

    @property
    def n_train(self) -> int:
        return len(self.train_x)

    @property
    def epoch(self) -> float:
        return self.batches / self.steps_per_epoch

    def fixed_z(self, n: int = QUALITY_DRAWS) -> torch.Tensor:
        """The same n latent draws at every checkpoint (the grid shows the first 64)."""
        return torch.randn(n, self.cfg.latent_dim, generator=torch.Generator().manual_seed(self.args.seed + 4242))


def setup(args: argparse.Namespace) -> GANRun:
    if args.threads:
        torch.set_num_threads(args.threads)
    train = load_dataset(args.dataset, "train", args.data_dir)
    test = load_dataset(args.dataset, "test", args.data_dir)
    _, c, h, _ = train.images.shape
    cfg = build_config(args, c, h, train.class_names)
    torch.manual_seed(args.seed)
    gen, disc = Generator(cfg.generator), Discriminator(cfg)
    betas = (args.beta1, args.beta2)
    run = GANRun(args, cfg, gen, disc, torch.optim.Adam(gen.parameters(), args.lr, betas=betas),
                 torch.optim.Adam(disc.parameters(), args.lr, betas=betas), torch.from_numpy(train.images),
                 test.images)
    if run.steps_per_epoch == 0:
        raise TrainingError(f"batch size {args.batch_size} is larger than the training set ({len(train.images)})")
    if fresh_or_resumed(run.out, args.resume):
        restore(run)
    return run


def restore(run: GANRun) -> None:
    path = run.out / CHECKPOINT_NAME
    meta = load_state(path, {"generator": run.gen, "discriminator": run.disc},
                      {"opt_g": run.opt_g, "opt_d": run.opt_d})
    check_resumable(path, GANConfig.from_dict(meta["config"]) == run.cfg, meta["args"], run.args, MUST_MATCH)
    run.step, run.batches, run.seconds = meta["step"], meta["batches"], meta["seconds"]
    run.history, run.quality = meta["history"], meta["quality"]
    print(f"resuming from {path} at generator step {run.step} (epoch {run.epoch:.2f})", flush=True)


def real_batch(run: GANRun) -> torch.Tensor:
    """The next training batch in [0, 1]: epoch e's shuffled order is seeded from (seed, e)."""
    idx = run.batch_indices(run.batches)
    run.batches += 1
    return run.train_x[idx].float().div_(255)


def train_step(run: GANRun) -> dict[str, float]:
    """n_critic discriminator steps, then one generator step; every draw seeded from (seed, step)."""
    args, cfg = run.args, run.cfg
    g = torch.Generator().manual_seed(args.seed * 1_000_003 + run.step)
    for _ in range(args.n_critic):
        real = real_batch(run)
        with torch.no_grad():
            fake = run.gen(torch.randn(len(real), cfg.latent_dim, generator=g))
        terms = critic_loss(cfg, run.disc, real, fake, args.gp, generator=g)
        run.opt_d.zero_grad(set_to_none=True)
        terms["loss"].backward()
        run.opt_d.step()
    g_loss = generator_loss(cfg, run.disc, run.gen(torch.randn(args.batch_size, cfg.latent_dim, generator=g)))
    run.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    run.opt_g.step()
    run.step += 1
    out = {("d_loss" if k == "loss" else k): v.item() for k, v in terms.items()} | {"g_loss": g_loss.item()}
    if not all(np.isfinite(v) for v in out.values()):
        raise TrainingError(f"a loss became non-finite at generator step {run.step} ({out}); the last "
                            f"checkpoint is intact: resume with a lower --lr")
    return out


@torch.no_grad()
def measure(run: GANRun) -> dict:
    """Write the sample grids; sharpness and median shape distance to the nearest test image of 256 fixed draws."""
    samples = run.gen(run.fixed_z())
    write_grid(samples[:64], run.out / "samples" / f"step-{run.step:07d}.png")
    write_grid(samples[:64], run.out / "samples.png")
    x = samples.numpy()
    return {"step": run.step, "epoch": round(run.epoch, 3),
            "sharpness": round(sharpness_ratio(x, run.test_x[:1000]), 3),
            "shape_distance": round(float(np.median(nearest_distances(x, run.test_x, shape=True))), 3)}


def checkpoint(run: GANRun, seconds: float) -> dict:
    """The grids and measures, what ships (gan.json, generator.safetensors), then the checkpoint itself."""
    q = measure(run)
    run.quality.append(q)
    state = {k: v.detach().contiguous() for k, v in run.gen.state_dict().items()}     # "decoder.*", as in ConvVAE
    atomic_write(run.out / "generator.safetensors", lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    write_json(run.out / "gan.json", run.cfg.to_dict() | {"step": run.step, "epoch": round(run.epoch, 3)})
    save_state(run.out / CHECKPOINT_NAME, {"generator": run.gen, "discriminator": run.disc},
               {"opt_g": run.opt_g, "opt_d": run.opt_d},
               {"step": run.step, "batches": run.batches, "seconds": seconds, "history": run.history,
                "quality": run.quality, "config": run.cfg.to_dict(), "args": vars(run.args), "device": describe()})
    return q


def log_row(run: GANRun, sums: dict, n: int, dt: float, seconds: float) -> dict:
    """One history row: the mean of each term over the last n generator steps, and the speed."""
    row = {"step": run.step, "epoch": round(run.epoch, 4), "seconds": round(seconds, 1)}
    row |= {k: round(v / n, 5) for k, v in sums.items()}
    row["steps_per_second"] = round(n / dt, 3)
    row["images_per_second"] = round(n * run.args.n_critic * run.args.batch_size / dt, 1)   # real images
    run.history.append(row)
    terms = "  ".join(f"{k} {v:8.4f}" for k, v in row.items() if k not in ("step", "epoch", "seconds",
                                                                           "steps_per_second", "images_per_second"))
    print(f"step {run.step:7d}  epoch {run.epoch:6.2f}  {terms}  {row['images_per_second']:6.0f} img/s  "
          f"{row['steps_per_second']:5.2f} steps/s  {seconds / 60:6.1f} min", flush=True)
    return row


def train(args: argparse.Namespace) -> dict:
    run = setup(args)
    budget = Budget(args.seconds, args.checkpoint_every)
    budget.catch_signals()
    total_batches = int(args.epochs * run.steps_per_epoch)
    print(f"GAN ({run.cfg.loss}): generator {sum(p.numel() for p in run.gen.parameters()):,} parameters, "
          f"discriminator {sum(p.numel() for p in run.disc.parameters()):,}; {run.steps_per_epoch} batches of "
          f"{args.batch_size} per epoch; writing {run.out}", flush=True)
    if run.step == 0:
        print(f"step 0 samples: {checkpoint(run, 0.0)}", flush=True)
    sums: dict[str, float] = {}
    n, t_log = 0, time.monotonic()
    reason = None
    while reason is None:
        if run.batches + args.n_critic > total_batches:
            reason = f"{args.epochs:g} epochs done"
            break
        for k, v in train_step(run).items():
            sums[k] = sums.get(k, 0.0) + v
        n += 1
        if n == args.log_every:
            log_row(run, sums, n, time.monotonic() - t_log, run.seconds + budget.elapsed())
            sums, n, t_log = {}, 0, time.monotonic()
        reason = budget.spent()
        if budget.due() and reason is None:
            t0 = time.monotonic()
            print(f"checkpoint at step {run.step}: {checkpoint(run, run.seconds + budget.elapsed())}", flush=True)
            budget.checkpointed()
            t_log += time.monotonic() - t0             # the speed counts training steps only
    q = checkpoint(run, run.seconds + budget.elapsed())
    print(f"{reason}: checkpoint at step {run.step}: {q}; resume with --resume", flush=True)
    return {"step": run.step, "seconds": run.seconds + budget.elapsed(), "reason": reason, "quality": q}


def install(run_dir: Path, dest: Path, thumbnails_from: str) -> dict:
    """A run's generator as an explorer model (weights/NAME): config.json with kind "gan", model.safetensors
    (its "decoder.*" keys, float16), a map of generated images (evaluate.build_generator_atlas) and
    metrics.json with the training record (what the run's checkpoint recorded: its data set, time, speed and
    device) and the sample measures. No encoder, so no ELBO and no typicality."""
    from ..analysis.sample_quality import blur_and_distance  # noqa: PLC0415
    from ..nets.vae import ConvVAE  # noqa: PLC0415
    from ..store.weights import load_metrics, save_pretrained  # noqa: PLC0415
    from .evaluate import build_generator_atlas  # noqa: PLC0415

    record = json.loads((run_dir / "gan.json").read_text())
    cfg = GANConfig.from_dict({k: v for k, v in record.items() if k not in ("step", "epoch")})
    vae = ConvVAE(VAEConfig.from_dict(cfg.generator.to_dict() | {"kind": "gan"}))
    state = load_file(str(run_dir / "generator.safetensors"))
    vae.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    vae.eval()
    dest.mkdir(parents=True, exist_ok=True)
    save_pretrained(vae, dest, half=True)
    _, trained = read_checkpoint(run_dir / CHECKPOINT_NAME)          # args, seconds, history: the run's own
    dataset = trained["args"]["dataset"]
    test = load_dataset(dataset, "test", trained["args"].get("data_dir"))
    build_generator_atlas(vae, test, dest, thumbnails_from)
    speeds = [row["images_per_second"] for row in trained["history"]]
    metrics = load_metrics(dest) | {
        "kind": "gan", "dataset": dataset, "test_images": len(test),
        "description": f"a GAN: our decoder as the generator ({cfg.loss} loss{', spectral norm' * cfg.spectral_norm}), "
                       f"{record['epoch']:.1f} epochs; no encoder",
        "gan": {"loss": cfg.loss, "disc_widths": list(cfg.disc_widths), "spectral_norm": cfg.spectral_norm,
                "generator_steps": record["step"], "epochs": record["epoch"],
                "minutes": round(trained["seconds"] / 60, 1),
                "images_per_second": round(float(np.median(speeds)), 1) if speeds else None,
                "device": trained.get("device"),                        # None: a run from before it was recorded
                "command": "python -m model gan --out RUN --threads 1 [--seconds S --resume]"},
        "measures": dict(blur_and_distance(vae, test.images), images=len(test))}
    write_json(dest / "metrics.json", metrics)
    return metrics


def main(argv=None) -> int:
    args = parse_args(argv)

    def work():
        if args.install:
            m = install(Path(args.out), Path(args.install), args.thumbnails_from)
            print(json.dumps({k: m[k] for k in ("description", "gan", "measures")}, indent=2))
        else:
            train(args)
    return run_command(work, args.out, ValueError)
