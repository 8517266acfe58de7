"""Project deposits in the cube onto the three wire planes (0, +60, -60 degrees)."""

from __future__ import annotations

import numpy as np

from ._detector import plane_transforms


def plane_keys(points: np.ndarray, size: int) -> np.ndarray:
    """Flat pixel keys ``(plane * size + row) * size + col`` for every point and plane,
    planes outermost: [3 * P]. Rows are the drift coordinate x, columns the wire."""
    row = np.clip(points[:, 2].astype(np.int64), 0, size - 1)
    keys = []
    for plane, (c, s, offset, scale) in enumerate(plane_transforms(size)):
        wire = (points[:, 0] * c + points[:, 1] * s - offset) / scale
        col = np.clip(wire.astype(np.int64), 0, size - 1)
        keys.append((plane * size + row) * size + col)
    return np.concatenate(keys)


def unravel(keys: np.ndarray, size: int, dim: int) -> np.ndarray:
    """Keys back to int32 coordinates [n, dim], first axis slowest."""
    out = np.empty((keys.size, dim), np.int32)
    rest = keys
    for axis in range(dim - 1, -1, -1):
        out[:, axis] = rest % size
        rest = rest // size
    return out
