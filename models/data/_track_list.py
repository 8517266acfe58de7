"""A batch of charged-particle tracks to be stepped through the detector together.

Particles are added in groups (all protons of a batch of events in one call); ``freeze``
turns the groups into flat arrays so that one vectorised walk serves every track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_FIELDS = (
    "start", "direction", "n_steps", "range_cm", "species", "semantic", "origin",
    "rank", "event", "charge_scale", "pin", "scatter_scale",
)


@dataclass(frozen=True)
class Tracks:
    start: np.ndarray  # float [K, 3], voxel units (z, y, x)
    direction: np.ndarray  # float [K, 3], unit vectors
    n_steps: np.ndarray  # int [K], one-voxel steps
    range_cm: np.ndarray  # float [K], residual range at the start
    species: np.ndarray  # int [K], species.*_SP
    semantic: np.ndarray  # int [K]
    origin: np.ndarray  # int [K]
    rank: np.ndarray  # int [K], budget priority within its event (lower kept first)
    event: np.ndarray  # int [K], event of the batch
    charge_scale: np.ndarray  # float [K]
    pin: np.ndarray  # bool [K], end forced onto the straight line's end
    scatter_scale: np.ndarray  # float [K]
    kink_track: np.ndarray  # int [J]
    kink_step: np.ndarray  # int [J]
    kink_size: np.ndarray  # float [J]

    def __len__(self) -> int:
        return int(self.n_steps.shape[0])


class TrackList:
    def __init__(self) -> None:
        self._parts: list[tuple] = []
        self._kinks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(
        self,
        start: np.ndarray,
        direction: np.ndarray,
        n_steps: np.ndarray,
        range_cm: np.ndarray | float,
        species: int,
        semantic: int,
        origin: int | np.ndarray,
        rank: int | np.ndarray,
        event: int | np.ndarray,
        charge_scale: float | np.ndarray = 1.0,
        pin: bool = False,
        scatter_scale: float = 1.0,
    ) -> np.ndarray:
        """Add K tracks; returns their indices (for kinks and secondaries)."""
        n = np.asarray(n_steps, dtype=np.int64).reshape(-1)
        k = n.shape[0]
        self._parts.append((
            np.asarray(start, dtype=np.float64).reshape(k, 3),
            np.asarray(direction, dtype=np.float64).reshape(k, 3),
            n, range_cm, species, semantic, origin, rank, event, charge_scale, pin, scatter_scale,
        ))
        idx = np.arange(self._count, self._count + k)
        self._count += k
        return idx

    def steps_of(self, indices: np.ndarray) -> np.ndarray:
        return np.concatenate([part[2] for part in self._parts])[indices]

    def add_kinks(self, track: np.ndarray, step: np.ndarray, size: np.ndarray) -> None:
        """Sudden deflections (hadronic scatters): ``size`` ~ tan of the kink angle."""
        self._kinks.append((np.asarray(track), np.asarray(step), np.asarray(size)))

    def freeze(self) -> Tracks:
        cols: list[list[np.ndarray]] = [[] for _ in _FIELDS]
        for part in self._parts:
            k = part[2].shape[0]
            for i, value in enumerate(part):
                cols[i].append(np.full(k, value) if np.ndim(value) == 0 else value)
        flat = [np.concatenate(c) if c else np.zeros((0, 3) if i < 2 else 0)
                for i, c in enumerate(cols)]
        kinks = [np.concatenate([k[j].reshape(-1) for k in self._kinks])
                 if self._kinks else np.zeros(0) for j in range(3)]
        return Tracks(
            flat[0], flat[1], np.maximum(flat[2], 1).astype(np.int64), flat[3].astype(np.float64),
            flat[4].astype(np.int64), flat[5].astype(np.int64), flat[6].astype(np.int64),
            flat[7].astype(np.int64), flat[8].astype(np.int64), flat[9].astype(np.float64),
            flat[10].astype(bool), flat[11].astype(np.float64), kinks[0].astype(np.int64),
            kinks[1].astype(np.int64), kinks[2].astype(np.float64),
        )
