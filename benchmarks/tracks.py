"""Synthetic line-like events for the benchmarks: kinked tracks from a common vertex.

Tracks are thin (about two voxels across), like the ionisation trails of a liquid-argon TPC,
so a voxel has a handful of active neighbours, not the 26 of a dense blob nor the ~0 of
uniform random points.
"""

from __future__ import annotations

import numpy as np


def track_event(rng: np.random.Generator, n_voxels: int, size: int, dim: int = 3) -> np.ndarray:
    """Distinct voxel coordinates [n_voxels, dim] (int32) of tracks in a ``size**dim`` grid."""
    vertex = rng.uniform(0.3 * size, 0.7 * size, dim)
    chunks: list[np.ndarray] = []
    total = 0
    while total < n_voxels:
        point = vertex.copy()
        direction = rng.normal(size=dim)
        for _ in range(rng.integers(1, 4)):  # 1-3 straight pieces with kinks between
            direction = direction / np.linalg.norm(direction)
            length = rng.uniform(0.05, 0.35) * size
            steps = np.arange(0.0, length, 0.5)[:, None]
            line = point + steps * direction
            # Jitter of ~half a voxel widens the trail to about two voxels.
            line = line + rng.uniform(-0.6, 0.6, line.shape)
            voxels = np.floor(line).astype(np.int64)
            inside = np.all((voxels >= 0) & (voxels < size), axis=1)
            voxels = voxels[inside]
            if len(voxels):
                chunks.append(voxels)
                total += len(voxels)
            point = point + length * direction
            direction = direction + rng.normal(scale=0.6, size=dim)
        if total >= n_voxels:
            both = np.concatenate(chunks)
            _, first = np.unique(both, axis=0, return_index=True)
            unique = both[np.sort(first)]
            if len(unique) >= n_voxels:
                return unique[:n_voxels].astype(np.int32)
            chunks, total = [unique], len(unique)
    raise AssertionError("unreachable")


def mean_neighbours(coords: np.ndarray) -> float:
    """Average number of active sites among the 3**dim - 1 neighbours of a site."""
    dim = coords.shape[1]
    keys = {tuple(c) for c in coords.tolist()}
    offsets = np.stack(np.meshgrid(*[[-1, 0, 1]] * dim, indexing="ij"), -1).reshape(-1, dim)
    offsets = offsets[np.any(offsets != 0, axis=1)]
    count = 0
    for off in offsets:
        shifted = coords + off
        count += sum(tuple(c) in keys for c in shifted.tolist())
    return count / len(coords)
