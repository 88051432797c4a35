"""Many small VAEs of one shape: one step each in turn (what a training process does) against one batched step
of all of them with stacked parameters (torch.func: stack_module_state, functional_call, vmap over grad).

    python bench/stacked_training.py [--models 15] [--steps 20] [--threads 1] [--rounds 3]

The live class's jobs (Fashion-MNIST, small, 2-D, batch 128) on one thread, as in a training process. Each
model's step: the ELBO's negative (Bernoulli reconstruction + KL to N(0, I), Kingma & Welling 2013, eq. 10),
its gradient, and Adam. Sequential: K modules and K Adams, one after another. Stacked: the K models'
parameters stacked into one set of tensors, the per-model gradient by vmap(grad(loss)) and one Adam over the
stacked tensors (Adam is elementwise, so this is K Adams). Both on the same batches; --rounds alternates the
order. Prints milliseconds per model-step for each and the ratio.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, stack_module_state, vmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.nets.vae import ConvVAE, VAEConfig  # noqa: E402
from model.training.worker import MODEL_SIZES  # noqa: E402


def negative_elbo(model, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * eps
    recon = F.binary_cross_entropy_with_logits(model.decode_logits(z), x, reduction="sum") / len(x)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum() / len(x)
    return recon + kl


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=int, default=15)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    widths, hidden, res_blocks = MODEL_SIZES["small"]
    config = VAEConfig(latent_dim=2, widths=widths, hidden=hidden, res_blocks=res_blocks)
    torch.manual_seed(0)
    models = [ConvVAE(config) for _ in range(a.models)]
    x = torch.rand(a.models, 128, 1, 28, 28).round()
    eps = torch.randn(a.models, 128, 2)

    opts = [torch.optim.Adam(m.parameters(), lr=2e-3) for m in models]

    def sequential(steps: int) -> None:
        for _ in range(steps):
            for m, opt, xb, e in zip(models, opts, x, eps, strict=True):
                opt.zero_grad(set_to_none=True)
                negative_elbo(m, xb, e).backward()
                opt.step()

    params, buffers = stack_module_state([copy.deepcopy(m) for m in models])
    base = copy.deepcopy(models[0]).to("meta")
    stacked = list(params.values())
    stacked_opt = torch.optim.Adam(stacked, lr=2e-3)

    def loss(p, b, xb, e):
        return negative_elbo(_Bound(base, p, b), xb, e)

    per_model_grad = vmap(grad(loss), in_dims=(0, 0, 0, 0), randomness="different")

    def batched(steps: int) -> None:
        for _ in range(steps):
            grads = per_model_grad(params, buffers, x, eps)
            for t in stacked:
                t.grad = grads[_name_of[id(t)]]
            stacked_opt.step()

    _name_of = {id(t): name for name, t in params.items()}
    for t in stacked:
        t.requires_grad_(False)
    sequential(2)
    batched(2)                                                    # warm-up: vmap's first trace
    times = {"sequential": [], "stacked": []}
    for r in range(a.rounds):
        for name, fn in (("sequential", sequential), ("stacked", batched))[:: 1 if r % 2 == 0 else -1]:
            t = time.perf_counter()
            fn(a.steps)
            times[name].append((time.perf_counter() - t) / (a.steps * a.models) * 1000)
    seq, st = statistics.median(times["sequential"]), statistics.median(times["stacked"])
    print(f"{a.models} models, batch 128, {a.threads} thread(s), {a.steps} steps x {a.rounds} rounds: "
          f"sequential {seq:.1f} ms per model-step, stacked {st:.1f} ms; stacked / sequential = {st / seq:.2f}x")
    return 0


class _Bound(torch.nn.Module):
    """The base model's methods (encode, decode_logits) run on a given set of parameters and buffers."""

    def __init__(self, base, params, buffers) -> None:
        super().__init__()
        self._base, self._state = base, {**params, **buffers}

    def encode(self, x):
        return _call(self._base, self._state, "encode", x)

    def decode_logits(self, z):
        return _call(self._base, self._state, "decode_logits", z)


def _call(base, state, method: str, *args):
    """functional_call of one method of base (functional_call calls forward; this swaps it for a moment)."""
    class _Method(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = base

        def forward(self, *xs):
            return getattr(self.inner, method)(*xs)
    return functional_call(_Method(), {f"inner.{k}": v for k, v in state.items()}, args)


if __name__ == "__main__":
    raise SystemExit(main())
