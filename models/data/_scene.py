"""What a batch of events contains, collected before anything is stepped through the
detector.

Scene builders (neutrino interaction, cosmic rays, single particles) add primary tracks,
shower seeds and blips for all events of the batch at once, each tagged with its event;
the generator then walks everything in two vectorised passes (primaries, then the
secondaries that start on them).
"""

from __future__ import annotations

import math

import numpy as np

from ._blips import blips
from ._deposits import Deposits
from ._detector import Detector
from ._directions import distance_to_exit
from ._species import range_cm
from ._track_list import TrackList
from .event import TRACK


class Scene:
    def __init__(self, detector: Detector, rng: np.random.Generator, count: int) -> None:
        self.detector = detector
        self.rng = rng
        self.count = count
        self.tracks = TrackList()
        self.shower_seeds: list[tuple[np.ndarray, ...]] = []
        self.deposits: list[Deposits] = []
        self.muons: list[np.ndarray] = []  # may stop and decay to a Michel electron
        self.delta_parents: list[np.ndarray] = []
        self.kinks: list[tuple[np.ndarray, np.ndarray]] = []  # (track, step)
        self.info: dict[str, np.ndarray] = {}  # per-event facts for Event.meta

    def add_charged(
        self,
        species: int,
        start: np.ndarray,
        direction: np.ndarray,
        kinetic_mev: np.ndarray,
        origin: int | np.ndarray,
        rank: int | np.ndarray,
        event: np.ndarray,
        semantic: int = TRACK,
        max_steps: np.ndarray | None = None,
        into: TrackList | None = None,
    ) -> np.ndarray:
        """Tracks that stop after their range or leave the cube, whichever comes first;
        added to the scene's primaries, or to ``into`` (secondaries born on walked tracks)."""
        det = self.detector
        kinetic_mev = np.asarray(kinetic_mev, np.float64).reshape(-1)
        r = range_cm(np.full(kinetic_mev.shape, species), kinetic_mev)
        n = np.ceil(r / det.pitch_cm)
        exit_steps = distance_to_exit(start, direction, det.size) + 2.0
        n = np.minimum(n, exit_steps if max_steps is None else max_steps)
        target = self.tracks if into is None else into
        return target.add(start, direction, np.maximum(n, 1).astype(np.int64), r, species,
                          semantic, origin, rank, event)

    def add_shower(self, start: np.ndarray, axis: np.ndarray, energy_mev: np.ndarray,
                   photon: bool, origin: int, rank: int | np.ndarray, event: np.ndarray) -> None:
        k = start.shape[0]
        self.shower_seeds.append((
            start, axis, np.asarray(energy_mev, float).reshape(k), np.full(k, photon),
            np.full(k, origin), np.full(k, rank) if np.ndim(rank) == 0 else np.asarray(rank), event,
        ))

    def add_blips(self, centres: np.ndarray, energy_mev: np.ndarray, semantic: int,
                  origin: int | np.ndarray, rank: int | np.ndarray, event: np.ndarray) -> None:
        if centres.shape[0]:
            self.deposits.append(blips(self.rng, centres, energy_mev, semantic, origin, rank,
                                       event))

    def scatter_around(self, centres: np.ndarray, radius_cm: float) -> np.ndarray:
        """A point near each of ``centres`` with a Gaussian spread of ``radius_cm``."""
        sigma = radius_cm / self.detector.pitch_cm / math.sqrt(3.0)
        return centres + self.rng.standard_normal(centres.shape) * sigma
