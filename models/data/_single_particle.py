"""Single-particle events for the classification task (e, gamma, mu, pi, p)."""

from __future__ import annotations

import numpy as np

from ._directions import isotropic
from ._neutrino import add_pion_kinks
from ._scene import Scene
from ._species import MUON_SP, PION_SP, PROTON_SP
from .event import ELECTRON, GAMMA, MUON, NEUTRINO, PARTICLE_CLASSES, PION, PROTON

# Kinetic energy ranges (MeV) per PARTICLE_CLASSES entry, drawn log-uniformly.
ENERGY_MEV = np.array([[50.0, 600.0], [50.0, 600.0], [60.0, 800.0], [60.0, 600.0],
                       [50.0, 400.0]])
RANK = 0
_SPECIES = {MUON: MUON_SP, PION: PION_SP, PROTON: PROTON_SP}


def add_single_particles(scene: Scene) -> np.ndarray:
    """One particle per event, of a uniformly drawn class; returns the classes. The
    particle is labelled with origin NEUTRINO: it plays the signal's part."""
    rng, size, b = scene.rng, scene.detector.size, scene.count
    particle = rng.integers(len(PARTICLE_CLASSES), size=b)
    vertex = rng.uniform(0.25 * size, 0.75 * size, size=(b, 3))
    direction = isotropic(rng, b)
    low, high = ENERGY_MEV[particle].T
    energy = np.exp(rng.uniform(np.log(low), np.log(high)))
    scene.info.update(particle=particle, energy_mev=energy, vertex=vertex)
    for kind in (ELECTRON, GAMMA):
        ev = np.flatnonzero(particle == kind)
        if ev.size:
            scene.add_shower(vertex[ev], direction[ev], energy[ev], kind == GAMMA, NEUTRINO,
                             RANK, ev)
    for kind, species in _SPECIES.items():
        ev = np.flatnonzero(particle == kind)
        if ev.size == 0:
            continue
        track = scene.add_charged(species, vertex[ev], direction[ev], energy[ev], NEUTRINO,
                                  RANK, ev)
        if kind == MUON:
            scene.muons.append(track)
        if kind in (MUON, PION):
            scene.delta_parents.append(track)
        if kind == PION:
            add_pion_kinks(scene, track)
    return particle
