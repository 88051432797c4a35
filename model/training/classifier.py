"""Train the Fashion-MNIST classifier behind the sample-quality measures:
`python -m model classifier --out weights/.classifier [--epochs 4] [--threads 2]`.

Cross-entropy with AdamW, a short warm-up and cosine decay (the training loop's lr_at), random horizontal
flips, on the 60,000 training images; the 10,000 test images are classified after every epoch.

Every batch also holds --noise-share as many synthetic noise images (uniform, Gaussian, smooth blobs, sparse
dots: noise_images) under an extra class, "noise": outlier exposure (Hendrycks, Mazeika & Dietterich 2019).
Without it, the features of noise fall among those of the ambiguous real images (a shirt or a pullover?),
whose k-NN balls are the widest, and Kynkäänniemi et al.'s precision of uniform noise against the test set
came out at 0.47 (a first run of this trainer, --noise-share 0): the measure could not tell noise from data. The weights
(float16 unless --float32), classifier.json and metrics.json (test accuracy per class and in all, epochs,
training time, size) are written atomically after every epoch, so a stopped run leaves the last epoch's.
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..cli import fail
from ..data import load_dataset
from ..nets.classifier import CLASSIFIER_WEIGHTS_NAME, Classifier, ClassifierConfig
from ..store.companions import save_classifier
from ..store.weights import write_json
from .loop import lr_at
from .run import epoch_order, run_command

METRICS = "metrics.json"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m model classifier", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder for classifier.json, classifier.safetensors, metrics.json")
    p.add_argument("--data-dir", default=None, help="folder with the Fashion-MNIST files (see README)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise-share", type=float, default=0.125,
                   help="noise images per batch, as a share of its real ones, under an extra class (0: none)")
    p.add_argument("--float32", action="store_true", help="store float32 weights (default: float16, half the size)")
    return p.parse_args(argv)


def as_input(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float (N, C, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).float().div_(255)


@torch.inference_mode()
def predict(model: Classifier, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    """The predicted class of every uint8 image, (N,)."""
    model.eval()
    return np.concatenate([model(as_input(images[i:i + batch])).argmax(1).numpy()
                           for i in range(0, len(images), batch)])


def accuracy(model: Classifier, images: np.ndarray, labels: np.ndarray, classes: int) -> tuple[float, list[float]]:
    """Overall accuracy and the accuracy of each class."""
    hit = predict(model, images) == labels
    return float(hit.mean()), [float(hit[labels == c].mean()) for c in range(classes)]


def noise_images(n: int, g: torch.Generator, size: int = 28) -> torch.Tensor:
    """n images of noise in [0, 1], float (n, 1, size, size), a quarter of each kind: uniform; Gaussian with a
    random mean and spread; smooth blobs (noise at 3-14 px, upsampled); sparse dots on a dark ground."""
    kinds = torch.arange(n) % 4
    out = torch.rand(n, 1, size, size, generator=g)                              # uniform
    mean, std = torch.rand(n, 1, 1, 1, generator=g), 0.1 + 0.4 * torch.rand(n, 1, 1, 1, generator=g)
    gauss = (mean + std * torch.randn(n, 1, size, size, generator=g)).clamp(0, 1)
    low = int(torch.randint(3, 15, (1,), generator=g))
    smooth = F.interpolate(torch.rand(n, 1, low, low, generator=g), size=size, mode="bilinear", align_corners=False)
    dots = (torch.rand(n, 1, size, size, generator=g) < 0.1 * torch.rand(n, 1, 1, 1, generator=g)).float()
    for k, images in enumerate((gauss, smooth, dots), start=1):
        out[kinds == k] = images[kinds == k]
    return out


def train_epoch(model: Classifier, opt: torch.optim.Optimizer, images: np.ndarray, labels: np.ndarray,
                args: argparse.Namespace, epoch: int, g: torch.Generator) -> float:
    """One pass over the training set in a random order; returns the mean loss."""
    model.train()
    per_epoch = len(images) // args.batch_size
    total, warmup = per_epoch * args.epochs, per_epoch // 4
    order = epoch_order(args.seed, epoch, len(images)).numpy()
    losses = []
    for b in range(per_epoch):
        for group in opt.param_groups:
            group["lr"] = lr_at(epoch * per_epoch + b, total, warmup, args.lr)
        idx = order[b * args.batch_size:(b + 1) * args.batch_size]
        x, y = as_input(images[idx]), torch.from_numpy(labels[idx]).long()
        flip = torch.rand(len(x), generator=g) < 0.5
        x[flip] = x[flip].flip(-1)                                   # (B, 1, 28, 28), half mirrored
        n_noise = round(args.noise_share * len(x))
        if n_noise:                                                  # the last class: noise
            x = torch.cat([x, noise_images(n_noise, g)])
            y = torch.cat([y, torch.full((n_noise,), model.config.classes - 1, dtype=torch.long)])
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return float(np.mean(losses))


def train(args: argparse.Namespace) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    tr, te = load_dataset("fashion-mnist", "train", args.data_dir), load_dataset("fashion-mnist", "test", args.data_dir)
    names = list(tr.class_names) + (["noise"] if args.noise_share > 0 else [])
    model = Classifier(ClassifierConfig(classes=len(names)))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    out, t0 = Path(args.out), time.perf_counter()
    for epoch in range(args.epochs):
        loss = train_epoch(model, opt, tr.images, tr.labels.astype(np.int64), args, epoch, g)
        acc, per_class = accuracy(model, te.images, te.labels, len(tr.class_names))
        seconds = time.perf_counter() - t0
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {loss:.4f}, test accuracy {acc:.4f} ({seconds:.0f} s)",
              flush=True)
        save_classifier(model, out, half=not args.float32)
        metrics = {
            "test_accuracy": round(acc, 4),
            "test_accuracy_per_class": dict(zip(tr.class_names, (round(a, 4) for a in per_class), strict=True)),
            "noise_share": args.noise_share,
            "epochs": epoch + 1, "train_loss": round(loss, 4), "train_seconds": round(seconds, 1),
            "threads": torch.get_num_threads(), "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
            "parameters": sum(p.numel() for p in model.parameters()),
            "weights_bytes": (out / CLASSIFIER_WEIGHTS_NAME).stat().st_size,
            "dtype": "float32" if args.float32 else "float16",
            "class_names": names, "data": "fashion-mnist (60,000 train, 10,000 test)",
            "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
        }
        write_json(out / METRICS, metrics)
    return metrics


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.noise_share < 0:
        return fail(ValueError("--epochs, --batch-size and --lr must be positive, --noise-share not negative"))

    def work():
        metrics = train(args)
        print(f"test accuracy {metrics['test_accuracy']:.4f} after {metrics['epochs']} epochs "
              f"({metrics['train_seconds']:.0f} s); wrote {args.out}")
    return run_command(work, args.out, ValueError)
