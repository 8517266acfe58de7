"""Energy deposits before voxelisation: points in the cube with charge and labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Deposits:
    points: np.ndarray  # float [P, 3], voxel units (z, y, x)
    charge: np.ndarray  # float [P], MeV
    semantic: np.ndarray  # int [P]
    origin: np.ndarray  # int [P]
    rank: np.ndarray  # int [P], budget priority of the particle that made it
    event: np.ndarray  # int [P], event of the batch it belongs to

    def __len__(self) -> int:
        return int(self.charge.shape[0])

    @staticmethod
    def concat(parts: list[Deposits]) -> Deposits:
        parts = [p for p in parts if len(p)]
        if not parts:
            empty = np.zeros(0, np.int64)
            return Deposits(np.zeros((0, 3)), np.zeros(0), empty, empty, empty, empty)
        return Deposits(
            np.concatenate([p.points for p in parts]),
            np.concatenate([p.charge for p in parts]),
            np.concatenate([p.semantic for p in parts]),
            np.concatenate([p.origin for p in parts]),
            np.concatenate([p.rank for p in parts]),
            np.concatenate([p.event for p in parts]),
        )

    def select(self, mask: np.ndarray) -> Deposits:
        return Deposits(self.points[mask], self.charge[mask], self.semantic[mask],
                        self.origin[mask], self.rank[mask], self.event[mask])
