"""Training on the CPU: our default model against the pytorch/examples MLP VAE, same threads.

    python bench/train_throughput.py [--threads N] [--budget 120] [--steps 60]

Ours: exactly what `python -m model train` trains by default (ConvVAE, latent 16, widths 32,64,
1 residual block, hidden 256, batch 128, Adam 2e-3 with warm-up and cosine decay, KL warm-up over
2 epochs, gradient clipping at 100), one step as model/training/loop.py takes it.
Anchor: the pytorch/examples VAE (vae/main.py): MLP 784-400-20-400-784, ReLU, Adam 1e-3,
batch 128, BCE + KL summed per image, re-implemented below.
Both on Fashion-MNIST (the data our default trains on), same torch thread count.

1. Throughput: warm-up, then timed blocks of steps alternating between the two models.
2. Budget: each model trained from scratch for the same wall-clock budget (evaluation excluded),
   then its test -ELBO (one-sample estimate, nats per image, all 10,000 test images, fixed seed).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _common import header, row  # noqa: E402

from model.data import load_dataset  # noqa: E402
from model.nets.losses import elbo_terms  # noqa: E402
from model.nets.vae import ConvVAE  # noqa: E402
from model.training import loop as T  # noqa: E402

BATCH = 128


class MLPVAE(nn.Module):
    """pytorch/examples vae/main.py, unchanged in shape: 784-400-20 (x2)-400-784."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x, generator=None):
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar       # logits (BCE with logits = BCE on sigmoid)


def mlp_loss(model, x, generator=None):
    logits, mu, logvar = model(x, generator)
    bce = F.binary_cross_entropy_with_logits(logits, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (bce + kld) / x.shape[0]                             # nats per image


def default_args(epochs: int):
    return T.parse_args(["--out", "/nonexistent", "--epochs", str(epochs)])


class Ours:
    """One training step of model/training/loop.py with its default arguments."""
    name = "ours: ConvVAE, `python -m model train` defaults"

    def __init__(self, train_x, steps_total: int, seed: int = 0) -> None:
        self.args = default_args(1)
        cfg = T.build_config(self.args, ("c",) * 10, 28, 1)
        torch.manual_seed(seed)
        self.model = ConvVAE(cfg)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.args.lr)
        spe = len(train_x) // BATCH
        self.total = steps_total
        self.lr_warm, self.kl_warm = int(self.args.lr_warmup * spe), int(self.args.kl_warmup * spe)
        self.gen = torch.Generator().manual_seed(seed)
        self.step_i = 0

    def step(self, xb_u8):
        a = self.args
        for g in self.opt.param_groups:
            g["lr"] = T.lr_at(self.step_i, self.total, self.lr_warm, a.lr)
        x = T.to_float(xb_u8)
        t = elbo_terms(self.model, x, beta=T.kl_weight_at(self.step_i, self.kl_warm, a.beta), generator=self.gen)
        self.opt.zero_grad(set_to_none=True)
        t["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), a.grad_clip)
        if not torch.isfinite(t["neg_elbo"]):
            raise RuntimeError("non-finite loss")
        self.opt.step()
        self.step_i += 1

    def test_neg_elbo(self, test_x) -> float:
        return T.evaluate_split(self.model, test_x, seed=1)["neg_elbo"]

    def n_params(self):
        return sum(p.numel() for p in self.model.parameters())


class Anchor:
    name = "anchor: pytorch/examples MLP VAE 784-400-20"

    def __init__(self, train_x, steps_total: int, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.model = MLPVAE()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.gen = torch.Generator().manual_seed(seed)

    def step(self, xb_u8):
        loss = mlp_loss(self.model, T.to_float(xb_u8), self.gen)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    @torch.no_grad()
    def test_neg_elbo(self, test_x) -> float:
        self.model.eval()
        gen = torch.Generator().manual_seed(1)
        tot = 0.0
        for i in range(0, len(test_x), 1000):
            x = T.to_float(test_x[i:i + 1000])
            tot += mlp_loss(self.model, x, gen).item() * len(x)
        self.model.train()
        return tot / len(test_x)

    def n_params(self):
        return sum(p.numel() for p in self.model.parameters())


def flops_per_image(m, xb_u8) -> float:
    """Floating-point operations of one training step (forward + backward), per image."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        m.step(xb_u8)
    return fc.get_total_flops() / len(xb_u8)


def matmul_gflops(n: int = 1024, reps: int = 20) -> float:
    """The machine's dense float32 matmul rate at this thread count: the practical CPU ceiling."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def batches(train_x, seed: int):
    """Endless shuffled batches of 128, a new permutation each epoch (as model/training/loop.py)."""
    epoch = 0
    while True:
        perm = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        for i in range(len(train_x) // BATCH):
            yield train_x[perm[i * BATCH:(i + 1) * BATCH]]
        epoch += 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--steps", type=int, default=60, help="steps per timed block (throughput)")
    p.add_argument("--blocks", type=int, default=4, help="timed blocks per model, alternating")
    p.add_argument("--budget", type=float, default=120.0, help="seconds of training per model (test -ELBO)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)

    train_x = torch.from_numpy(load_dataset("fashion-mnist", "train").images)
    test_x = torch.from_numpy(load_dataset("fashion-mnist", "test").images)
    spe = len(train_x) // BATCH

    # 1. throughput, alternating blocks
    models = {"ours": Ours(train_x, 10**6), "anchor": Anchor(train_x, 10**6)}
    its = {k: batches(train_x, 0) for k in models}
    for k, m in models.items():                                   # warm-up
        for _ in range(10):
            m.step(next(its[k]))
    flops = {k: flops_per_image(m, next(its[k])) for k, m in models.items()}
    times = {k: 0.0 for k in models}
    for _ in range(a.blocks):
        for k, m in models.items():
            xs = [next(its[k]) for _ in range(a.steps)]
            t0 = time.perf_counter()
            for xb in xs:
                m.step(xb)
            times[k] += time.perf_counter() - t0
    ips = {k: a.blocks * a.steps * BATCH / times[k] for k in models}
    peak = matmul_gflops()

    # 2. the same wall-clock budget each, from scratch
    reached = {}
    for k, cls in (("ours", Ours), ("anchor", Anchor)):
        est_steps = max(1, int(a.budget * ips[k] / BATCH))       # the cosine schedule spans the budget
        m = cls(train_x, est_steps)
        it = batches(train_x, 0)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < a.budget:
            m.step(next(it))
            n += 1
        trained = time.perf_counter() - t0
        reached[k] = (m.test_neg_elbo(test_x), n, trained)

    header(f"Training throughput on the CPU, torch threads = {a.threads}, batch {BATCH}, Fashion-MNIST",
           ["figure", "ours (ConvVAE default)", "anchor (pytorch/examples MLP)", "ratio ours/anchor", "target", "met?"])
    row(["parameters", f"{models['ours'].n_params():,}", f"{models['anchor'].n_params():,}",
         f"{models['ours'].n_params() / models['anchor'].n_params():.2f}x", "-", "-"])
    row(["training images/s", f"{ips['ours']:.0f}", f"{ips['anchor']:.0f}", f"{ips['ours'] / ips['anchor']:.2f}x",
         "report", "-"])
    row(["training FLOPs per image (forward + backward)", f"{flops['ours'] / 1e6:.1f} M",
         f"{flops['anchor'] / 1e6:.1f} M",
         f"{flops['ours'] / flops['anchor']:.1f}x", "-", "-"])
    row(["achieved GFLOP/s (FLOPs x images/s)", f"{flops['ours'] * ips['ours'] / 1e9:.1f}",
         f"{flops['anchor'] * ips['anchor'] / 1e9:.1f}",
         f"{flops['ours'] * ips['ours'] / (flops['anchor'] * ips['anchor']):.2f}x", "report", "-"])
    row(["... as a share of this machine's float32 matmul rate "
         f"({peak:.0f} GFLOP/s, 1024x1024, same threads)", f"{flops['ours'] * ips['ours'] / 1e9 / peak:.0%}",
         f"{flops['anchor'] * ips['anchor'] / 1e9 / peak:.0%}", "-", "near the hardware limit", "-"])
    row(["s/epoch (60,000 images, training steps only)", f"{60000 / ips['ours']:.1f} s",
         f"{60000 / ips['anchor']:.1f} s", f"{ips['anchor'] / ips['ours']:.2f}x", "report", "-"])
    (eo, no, _), (ea, na, _) = reached["ours"], reached["anchor"]
    row([f"test -ELBO after {a.budget:.0f} s of training (nats/image, lower is better)", f"{eo:.2f}",
         f"{ea:.2f}", f"{eo - ea:+.2f} nats", "lower than the anchor", "yes" if eo < ea else "**no**"])
    row(["... steps (epochs) in that budget", f"{no} ({no / spe:.1f})", f"{na} ({na / spe:.1f})", "-", "-", "-"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
