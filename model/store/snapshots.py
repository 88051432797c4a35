"""Watch a latent space organise: the posterior of a fixed set of test images, recorded during training.

`python -m model train --snapshots 40` encodes the same 2,000 test images at 40 moments, spaced
evenly in log(step) so the first tangle is seen as well as the end, and keeps their means (and
log-variances, for a VAE) in OUT/snapshots.npz as float16: 40 x 2,000 x 2 numbers are 0.3 MB.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from .weights import WeightsError, atomic_write

SNAPSHOTS_NAME = "snapshots.npz"
SNAPSHOT_IMAGES = 2000


def snapshot_steps(total_steps: int, k: int) -> list[int]:
    """k moments in [0, total_steps]: step 0 (the untrained encoder), then log-spaced to the end."""
    if k < 2 or total_steps < 1:
        return [0, total_steps][:max(k, 0)]
    later = np.unique(np.round(np.geomspace(1, total_steps, k - 1)).astype(int))
    return [0, *later.tolist()]


class SnapshotRecorder:
    """Encodes the fixed images at the chosen steps; survives --resume through its npz file."""

    def __init__(self, test_images: np.ndarray, total_steps: int, k: int, steps_per_epoch: int,
                 seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        n = min(SNAPSHOT_IMAGES, len(test_images))
        self.index = np.sort(rng.choice(len(test_images), size=n, replace=False)).astype(np.int32)
        self.images = torch.from_numpy(test_images[self.index])
        self.steps = set(snapshot_steps(total_steps, k))
        self.steps_per_epoch = steps_per_epoch
        self.records: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    @torch.no_grad()
    def maybe_record(self, model, step: int) -> None:
        if step not in self.steps or step in self.records:
            return
        was_training = model.training
        model.eval()
        mus, lvs = [], []
        for i in range(0, len(self.images), 500):
            x = self.images[i:i + 500].to(next(model.parameters()).device).float().div_(255)
            mu, lv = model.encode(x)
            mus.append(mu.float().cpu().numpy())
            lvs.append(None if lv is None else lv.float().cpu().numpy())
        model.train(was_training)
        self.records[step] = (np.concatenate(mus), None if lvs[0] is None else np.concatenate(lvs))

    def arrays(self) -> dict[str, np.ndarray]:
        steps = sorted(self.records)
        out = {"step": np.array(steps, dtype=np.int64), "index": self.index,
               "epoch": np.array(steps, dtype=np.float32) / self.steps_per_epoch,
               "mu": np.stack([self.records[s][0] for s in steps]).astype(np.float16)}
        if steps and self.records[steps[0]][1] is not None:
            out["logvar"] = np.stack([self.records[s][1] for s in steps]).astype(np.float16)
        return out

    def save(self, directory: str | os.PathLike) -> None:
        if not self.records:
            return
        arrays = self.arrays()

        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **arrays)
        atomic_write(Path(directory) / SNAPSHOTS_NAME, write)

    def resume(self, directory: str | os.PathLike) -> None:
        """Take back what an interrupted run recorded (same images, same steps)."""
        path = Path(directory) / SNAPSHOTS_NAME
        if not path.is_file():
            return
        old = load_snapshots(directory)
        if not np.array_equal(old["index"], self.index):
            return
        for i, step in enumerate(old["step"].tolist()):
            self.records[step] = (old["mu"][i].astype(np.float32),
                                  old["logvar"][i].astype(np.float32) if "logvar" in old else None)


def load_snapshots(directory: str | os.PathLike) -> dict[str, np.ndarray]:
    """step (K,), epoch (K,), index (N,) into the test set, mu (K, N, D) and, for a VAE, logvar."""
    path = Path(directory) / SNAPSHOTS_NAME
    if not path.is_file():
        raise WeightsError(f"{path}: missing; train with `--snapshots 40` to record one")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise WeightsError(f"{path}: corrupt snapshots ({e})") from None
    k, n = len(arrays.get("step", ())), len(arrays.get("index", ()))
    mu = arrays.get("mu")
    if mu is None or mu.ndim != 3 or mu.shape[:2] != (k, n) or k < 2:
        raise WeightsError(f"{path}: inconsistent snapshots (need step, index and mu of shape (K, N, D), K >= 2)")
    return arrays
