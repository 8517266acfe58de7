"""Synthetic shower-like blobs for the kernel benchmarks: dense clouds of voxels.

An electromagnetic shower fills a compact, elongated region of a 3D TPC image, so a voxel
there has many active neighbours (about 8 of the 26 here), unlike the thin tracks of
``tracks.py``.
"""

from __future__ import annotations

import numpy as np


def shower_blob(rng: np.random.Generator, n_voxels: int, size: int, dim: int = 3) -> np.ndarray:
    """Distinct voxel coordinates [n_voxels, dim] (int32) of one Gaussian blob, elongated
    along the first axis (spread 40 x 15 x 15 voxels in 3D, 60 x 20 in 2D)."""
    spread = np.array([40.0, 15.0, 15.0] if dim == 3 else [60.0, 20.0])
    found = np.empty((0, dim), np.int64)
    while len(found) < n_voxels:
        points = np.floor(size / 2 + rng.normal(size=(n_voxels, dim)) * spread).astype(np.int64)
        points = points[np.all((points >= 0) & (points < size), axis=1)]
        found = np.unique(np.concatenate([found, points]), axis=0)
    return found[rng.permutation(len(found))[:n_voxels]].astype(np.int32)
