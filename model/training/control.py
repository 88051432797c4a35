"""The contract between the training service (model.serving.training) and the training processes
(model.training.worker), said once: the run folder's file names, the controls a page may send to a run,
and the JSON helpers both sides use (written atomically, since the other side may read at any moment).

A run folder holds JOB_NAME (what to train), CONTROL_NAME (a Control: what the page asks), LIVE_NAME (what
the run shows: model.training.live_view), DATA_NAME (an upload's images), the checkpoint, and the weights
folder's files once a snapshot exists.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..store.weights import atomic_write

JOB_NAME, CONTROL_NAME, LIVE_NAME, DATA_NAME = "job.json", "control.json", "live.json", "data.npz"
TERMINAL = ("done", "stopped", "failed")


@dataclass
class Control:
    """What the page asks of a running job. beta and lr: None keeps the job's own; publish counts the
    "Explore this model" requests (each new one asks for a snapshot)."""

    beta: float | None = None
    lr: float | None = None
    paused: bool = False
    stop: bool = False
    publish: int = 0

    @classmethod
    def from_dict(cls, d: dict) -> Control:
        known = {f.name for f in fields(cls)}
        c = cls(**{k: v for k, v in d.items() if k in known})
        c.beta = None if c.beta is None else float(c.beta)
        c.lr = None if c.lr is None else float(c.lr)
        c.paused, c.stop, c.publish = bool(c.paused), bool(c.stop), int(c.publish or 0)
        return c

    @classmethod
    def read(cls, run_dir: Path) -> Control:
        return cls.from_dict(read_json(Path(run_dir) / CONTROL_NAME))

    def changed(self, **change) -> Control:
        """A copy with some fields set (the unknown ones refused: a typo must not pass silently)."""
        return Control.from_dict(asdict(self) | _known(change))

    def write(self, run_dir: Path) -> None:
        write_json_compact(Path(run_dir) / CONTROL_NAME, {k: v for k, v in asdict(self).items() if v is not None})


def _known(change: dict) -> dict:
    unknown = set(change) - {f.name for f in fields(Control)}
    if unknown:
        raise TypeError(f"unknown controls: {sorted(unknown)}")
    return change


def write_json_compact(path: Path, obj) -> None:
    """Atomically (temp + os.replace): the other side may read the file at any moment."""
    def w(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, separators=(",", ":"))
    atomic_write(path, w)


def read_json(path: Path) -> dict:
    """A JSON object, or {} when the file is missing or not (yet) whole."""
    try:
        out = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return out if isinstance(out, dict) else {}
