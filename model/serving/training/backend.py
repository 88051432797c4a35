"""The seam between the training service and where jobs train. The service decides which jobs run and who
may control them; a backend starts them, carries the page's controls to them, brings back what they show,
and says which were lost. The local backend (local.py) is a pool of training processes on this machine.

To add a backend (another machine, a cluster), write a class with these methods and hand it to
TrainingService(backend=...): the service, the page and the API stay as they are. A backend whose machines
may go (ray_backend.py, a Ray cluster) may also have unavailable() -> str | None: while it returns a message,
new jobs are refused with it. A backend with processes to start may have warm(datasets) -> int (start them
before the first job, the Train tab being opened) and release_idle() (called every monitor round: let idle
ones go).
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ...training.control import Control


class Backend(Protocol):
    def start(self, run_dir: Path) -> str:
        """Begin training the job that run_dir/job.json describes (resuming from its checkpoint when the job
        says so); returns where it trains (a node's name, "local")."""

    def control(self, run_dir: Path, control: Control) -> None:
        """Carry the page's controls to the job (β, learning rate, pause, stop, a snapshot)."""

    def view(self, run_dir: Path) -> dict:
        """What the job shows now (model.training.live_view), with its "state"; {} before the first update.
        Snapshots the job writes must be in run_dir by the time the view says so (its "model_version")."""

    def ended(self, run_dir: Path) -> None:
        """The service saw the job end (done, stopped or failed): it no longer counts against its place."""

    def lost(self) -> list[Path]:
        """The jobs whose training process has gone since the last call (killed, crashed, a node lost); the
        service starts each again from its checkpoint."""

    def shutdown(self, grace_s: float) -> None:
        """Stop every job (each keeps its checkpoint) within about grace_s seconds."""
