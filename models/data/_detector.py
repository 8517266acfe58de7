"""Geometry of the simulated liquid-argon TPC: a cube read out by three wire planes.

The physical size is fixed and ``size`` sets the number of voxels along each side, so
physics lengths (ranges, radiation length) stay in centimetres whatever the resolution.
Axes of the cube are (z, y, x): z along the neutrino beam, y vertical (cosmic rays come
down along -y), x the drift direction. A wire plane image has rows = drift (x) and
columns = wire coordinate ``z cos(a) + y sin(a)``, rescaled so the whole cube fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DETECTOR_CM = 153.6  # 512 voxels of 3 mm, the PILArNet pitch
DEFAULT_SIZE = 512
PLANE_ANGLES_DEG: tuple[float, ...] = (0.0, 60.0, -60.0)
RADIATION_LENGTH_CM = 14.0
MOLIERE_RADIUS_CM = 9.0

# Deposits kept per event, per voxel of cube side. Each deposit fills at most one voxel
# (one pixel per plane), so these bound occupancy: 12 * 512 = 6144 voxels < 0.005 % of
# 512^3 and 4.8 * 512 = 2457 pixels < 1 % of 512^2.
POINTS_PER_SIDE_3D = 12.0
POINTS_PER_SIDE_2D = 4.8


@dataclass(frozen=True)
class Detector:
    kind: str
    size: int
    side_cm: float = DETECTOR_CM
    budget: int | None = None  # deposits kept per event; None: the per-side rule above
    drift: int | None = None  # active voxels along x (the image rows); None: size

    @property
    def pitch_cm(self) -> float:
        return self.side_cm / self.size

    @property
    def point_budget(self) -> int:
        if self.budget is not None:
            return self.budget
        per_side = POINTS_PER_SIDE_3D if self.kind == "3d" else POINTS_PER_SIDE_2D
        return int(per_side * self.size)

    @property
    def extent(self) -> np.ndarray:
        """Voxels of the active volume along (z, y, x): a cube, or a box cut in drift."""
        return np.array([self.size, self.size, self.drift or self.size], float)

    def cm(self, voxels: float) -> float:
        return voxels * self.pitch_cm

    def voxels(self, cm: float) -> float:
        return cm / self.pitch_cm


def plane_transforms(size: int) -> list[tuple[float, float, float, float]]:
    """(cos, sin, offset, scale) per plane: column = (z cos + y sin - offset) / scale."""
    out = []
    for deg in PLANE_ANGLES_DEG:
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        out.append((c, s, min(0.0, size * s), abs(c) + abs(s)))
    return out
