"""One detector event as sparse numpy arrays, and the names of its labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Per voxel/pixel labels, in the order used by the PILArNet public data set.
SEMANTIC_CLASSES: tuple[str, ...] = ("shower", "track", "michel", "delta", "low_energy")
SHOWER, TRACK, MICHEL, DELTA, LOW_ENERGY = range(5)

# Where a deposit came from (the CosmicTagger convention).
ORIGIN_CLASSES: tuple[str, ...] = ("background", "cosmic", "neutrino")
BACKGROUND, COSMIC, NEUTRINO = range(3)

# Event label of single-particle samples (task "classification").
PARTICLE_CLASSES: tuple[str, ...] = ("electron", "gamma", "muon", "pion", "proton")
ELECTRON, GAMMA, MUON, PION, PROTON = range(5)

# Label of a voxel whose file carries no such label (use it as the loss's ignore index).
UNLABELLED = -1

KINDS: tuple[str, ...] = ("2d", "3d")
TASKS: tuple[str, ...] = ("segmentation", "classification")
NUM_PLANES = 3


@dataclass(frozen=True)
class Event:
    """Sparse voxels (3D: coords (z, y, x)) or pixels (2D: coords (plane, row, col)).

    ``semantic`` holds indices into SEMANTIC_CLASSES, ``origin`` into ORIGIN_CLASSES
    (either may be UNLABELLED for files without that label); ``particle`` is the
    PARTICLE_CLASSES index of a single-particle event and -1 otherwise.
    """

    coords: np.ndarray
    values: np.ndarray
    semantic: np.ndarray
    origin: np.ndarray
    particle: int = -1
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.values.shape[0])
