"""Energy deposits before voxelisation: points in the cube with charge and labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Labels and bookkeeping travel packed, one int each, to halve the arrays every step
# gathers and filters: label = semantic * ORIGINS + origin, slot = event * MAX_RANK + rank
# (rank: the occupancy-budget priority of the particle inside its event).
ORIGINS = 4
MAX_RANK = 100


def pack_label(semantic: np.ndarray | int, origin: np.ndarray | int) -> np.ndarray:
    return np.asarray(semantic, np.int64) * ORIGINS + np.asarray(origin, np.int64)


def pack_slot(event: np.ndarray | int, rank: np.ndarray | int) -> np.ndarray:
    return np.asarray(event, np.int64) * MAX_RANK + np.asarray(rank, np.int64)


@dataclass(frozen=True)
class Deposits:
    points: np.ndarray  # float [P, 3], voxel units (z, y, x)
    charge: np.ndarray  # float [P], MeV
    label: np.ndarray  # int [P], pack_label(semantic, origin)
    slot: np.ndarray  # int [P], pack_slot(event, rank)

    def __len__(self) -> int:
        return int(self.charge.shape[0])

    @property
    def event(self) -> np.ndarray:
        return self.slot // MAX_RANK

    @staticmethod
    def concat(parts: list[Deposits]) -> Deposits:
        parts = [p for p in parts if len(p)]
        if not parts:
            empty = np.zeros(0, np.int64)
            return Deposits(np.zeros((0, 3)), np.zeros(0), empty, empty)
        return Deposits(
            np.concatenate([p.points for p in parts]),
            np.concatenate([p.charge for p in parts]),
            np.concatenate([p.label for p in parts]),
            np.concatenate([p.slot for p in parts]),
        )

    def select(self, mask: np.ndarray) -> Deposits:
        return Deposits(self.points[mask], self.charge[mask], self.label[mask], self.slot[mask])
