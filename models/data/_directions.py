"""Random directions and straight-line distances inside the cube."""

from __future__ import annotations

import numpy as np

BEAM = np.array([1.0, 0.0, 0.0])  # +z in (z, y, x)


def normalize(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def isotropic(rng: np.random.Generator, k: int) -> np.ndarray:
    return normalize(rng.standard_normal((k, 3)))


def forward(rng: np.random.Generator, k: int, spread: float) -> np.ndarray:
    """Directions boosted along the beam; ``spread`` ~ the typical angle in radians."""
    return normalize(BEAM + rng.standard_normal((k, 3)) * spread)


def deflect(rng: np.random.Generator, axis: np.ndarray, spread: float | np.ndarray) -> np.ndarray:
    """Directions scattered around ``axis`` [K, 3] by roughly ``spread`` radians."""
    noise = rng.standard_normal(axis.shape) * np.reshape(spread, (-1, 1))
    return normalize(axis + noise)


def distance_to_exit(start: np.ndarray, direction: np.ndarray, size: float) -> np.ndarray:
    """Voxels travelled along ``direction`` from ``start`` (inside) before leaving."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(direction > 0, (size - start) / direction,
                     np.where(direction < 0, -start / direction, np.inf))
    return np.maximum(t.min(axis=-1), 0.0)
