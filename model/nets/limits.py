"""What a request may ask: every argument that comes from a user (a slider, the HTTP API, a URL) is
checked here, and a refusal is an ExplorerError whose message is safe to show to that user."""
from __future__ import annotations

import math

import numpy as np

SLIDER_LIMIT = 4.0            # latent values span [-4, 4]: 99.99% of the prior's mass per dimension
MAX_SAMPLES = 64
MAX_STEPS = 64
MAX_TEMPERATURE = 3.0
MAX_SEED = 2**31 - 1
MAX_AMOUNT = 3.0              # attribute sliders run -2..2; the API refuses amounts beyond this
METHODS = ("linear", "spherical")


class ExplorerError(ValueError):
    """A request the explorer refuses; the message is meant for the user."""


def whole_number(value, lo: int, hi: int, name: str) -> int:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ExplorerError(f"{name} must be a whole number from {lo} to {hi}") from None
    if not math.isfinite(f) or f != int(f) or not lo <= f <= hi:
        raise ExplorerError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
    return int(f)


def number(value, lo: float, hi: float, name: str) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ExplorerError(f"{name} must be a number from {lo} to {hi}") from None
    if not math.isfinite(f) or not lo <= f <= hi:
        raise ExplorerError(f"{name} must be a number from {lo} to {hi}, got {value!r}")
    return f


def seed(value) -> int:
    return whole_number(value, 0, MAX_SEED, "seed")


def method(value) -> str:
    if value not in METHODS:
        raise ExplorerError(f"method must be 'linear' or 'spherical', got {str(value)[:40]!r}")
    return value


def vector(values, dim: int, name: str = "z") -> np.ndarray:
    """A list of dim numbers -> float64 (dim,); wrong length or NaN is refused."""
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ExplorerError(f"{name} must be a list of numbers") from None
    if arr.size != dim:
        raise ExplorerError(f"{name} has {arr.size} values; this model expects {dim}")
    if np.isnan(arr).any():
        raise ExplorerError(f"{name} contains NaN; every value must be a number")
    return arr


def latent(z, dim: int, limit: float = SLIDER_LIMIT) -> np.ndarray:
    """A user-supplied latent vector -> float32 (dim,): wrong length or NaN is refused,
    +-inf and huge values are clamped to the slider range."""
    return np.clip(vector(z, dim), -limit, limit).astype(np.float32)
