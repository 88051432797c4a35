"""What a Start may ask for, checked once: the data set, the latent size, β, the learning rate, the budget,
the model size and the student's name; ExplorerError names the bad one."""
from __future__ import annotations

import unicodedata

import numpy as np

from ...data import TRAIN_SETS
from ...nets.limits import ExplorerError
from ...training.worker import MODEL_SIZES

UPLOAD = "upload"                  # a class's own pictures (model.data.intake), sent with the job
DATASET_CHOICES = TRAIN_SETS + (UPLOAD,)
LATENT_CHOICES = (2, 4, 8, 16, 32)
BETA_RANGE = (0.0, 20.0)
LR_RANGE = (1e-5, 0.05)
SECONDS_RANGE = (5, 1800)
DEFAULT_SECONDS = 45
NAME_LIMIT = 40                    # a student's name at Start: shown as text, cut to this many characters


def checked_settings(spec: dict) -> dict:
    """The job's settings, each checked, with the defaults filled in."""
    out = {"dataset": spec.get("dataset", "fashion-mnist"), "size": spec.get("size", "small"),
           "kl_warmup": bool(spec.get("kl_warmup", True)), "seed": 0, "name": clean_name(spec.get("name"))}
    if out["dataset"] not in DATASET_CHOICES:
        raise ExplorerError(f"unknown data set {str(out['dataset'])[:40]!r}: "
                            f"choose one of {', '.join(DATASET_CHOICES)}")
    if out["size"] not in MODEL_SIZES:
        raise ExplorerError(f"model size must be one of {', '.join(MODEL_SIZES)}")
    try:
        latent = int(spec.get("latent_dim", 2))
        beta, lr = float(spec.get("beta", 1.0)), float(spec.get("lr", 2e-3))
        seconds = float(spec.get("seconds", DEFAULT_SECONDS))
    except (TypeError, ValueError):
        raise ExplorerError("latent size, β, learning rate and seconds must be numbers") from None
    if latent not in LATENT_CHOICES:
        raise ExplorerError(f"latent size must be one of {', '.join(map(str, LATENT_CHOICES))}, not {latent}")
    check_range("β", beta, BETA_RANGE)
    check_range("learning rate", lr, LR_RANGE)
    check_range("the time budget (seconds)", seconds, SECONDS_RANGE)
    return out | {"latent_dim": latent, "beta": beta, "lr": lr, "seconds": seconds}


def check_range(name: str, value: float, bounds: tuple[float, float]) -> None:
    lo, hi = bounds
    if not np.isfinite(value) or not lo <= value <= hi:
        raise ExplorerError(f"{name} must be between {lo:g} and {hi:g}, not {value:g}")


def clean_name(name) -> str:
    """A student's name as plain text: control characters (newlines, escapes, bidirectional overrides) dropped,
    spaces collapsed, at most NAME_LIMIT characters. The page shows it as text, never as HTML."""
    text = "".join(ch for ch in str(name or "") if unicodedata.category(ch)[0] != "C")
    return " ".join(text.split())[:NAME_LIMIT]


def batch_for(data: dict | None, batch: int = 128) -> int:
    """128 pictures a step, or for a small upload a quarter of it (a few steps per pass, at least 8 each)."""
    if data is None:
        return batch
    return int(min(batch, max(8, len(data["train_images"]) // 4)))
