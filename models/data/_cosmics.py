"""Cosmic-ray muons crossing the whole cube, overlaid on the neutrino interaction.

Directions follow the cos^2 zenith law around -y; each muon enters through one face and
leaves through another. A tenth of them stop inside (and may decay to a Michel electron).
"""

from __future__ import annotations

import numpy as np

from ._blips import blip_energies
from ._directions import distance_to_exit
from ._scene import Scene
from ._species import MUON_SP, kinetic_mev
from .event import COSMIC, LOW_ENERGY

STOPPING_FRACTION = 0.1
FIRST_RANK = 1  # cosmic i of an event has budget rank FIRST_RANK + i


def add_cosmics(scene: Scene, counts: np.ndarray) -> None:
    """``counts[e]`` cosmic muons in event e."""
    ev = np.repeat(np.arange(scene.count), counts)
    count = ev.size
    if count == 0:
        return
    rng, det = scene.rng, scene.detector
    size = det.size
    cos_zenith = rng.random(count) ** (1.0 / 3.0)  # pdf ~ cos^2 on the upper hemisphere
    sin_zenith = np.sqrt(1.0 - cos_zenith**2)
    phi = rng.uniform(0.0, 2.0 * np.pi, count)
    direction = np.stack([sin_zenith * np.cos(phi), -cos_zenith, sin_zenith * np.sin(phi)], 1)
    through = rng.uniform(0.0, det.extent, (count, 3))  # every muon crosses the active volume
    back = distance_to_exit(through, -direction, size)
    start = through - direction * back[:, None]
    chord = back + distance_to_exit(through, direction, size)
    stops = rng.random(count) < STOPPING_FRACTION
    steps = np.where(stops, chord * rng.uniform(0.3, 0.95, count), chord + 2.0)
    # a stopping muon has exactly its path inside the cube as range
    stopping_t = kinetic_mev(np.full(count, MUON_SP), steps * det.pitch_cm)
    kinetic = np.where(stops, stopping_t, rng.lognormal(np.log(4000.0), 0.8, count))
    ranks = FIRST_RANK + np.arange(count) - np.repeat(np.cumsum(counts) - counts, counts)
    muons = scene.add_charged(MUON_SP, start, direction, kinetic, COSMIC, ranks, ev,
                              max_steps=np.ceil(steps))
    scene.muons.append(muons[stops])
    scene.delta_parents.append(muons)
    owner = np.repeat(np.arange(count), rng.poisson(3, count))
    if owner.size:
        along = rng.random(owner.size)[:, None] * steps[owner, None]
        centres = start[owner] + direction[owner] * along
        centres += rng.standard_normal(centres.shape) * det.voxels(10.0)
        scene.add_blips(centres, blip_energies(rng, owner.size), LOW_ENERGY, COSMIC,
                        ranks[owner], ev[owner])
