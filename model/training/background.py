"""What the long background runs (the GAN, the VQ-VAE's prior) share: a wall-clock budget, a stop on
SIGTERM or Ctrl-C that still checkpoints, checkpoints every few minutes, and sample grids written
atomically so progress can be looked at while they train."""
from __future__ import annotations

import signal
import time
from pathlib import Path

import torch

from ..store.pictures import grid, to_images
from ..store.weights import atomic_write


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


def write_grid(images: torch.Tensor, path: Path, cols: int = 8, size: int = 56) -> None:
    """(N, C, H, W) in [0, 1] -> one PNG of N tiles, cols per row (atomic)."""
    picture = grid(to_images(images.detach().cpu(), size), cols)
    atomic_write(path, lambda tmp: picture.save(tmp, format="PNG"))


def remove_stale_temps(out: Path) -> None:
    """Temp files left by a run killed mid-write (atomic_write never leaves one otherwise)."""
    for stale in list(out.glob(".*.tmp")) + list(out.glob("*/.*.tmp")):
        stale.unlink(missing_ok=True)
