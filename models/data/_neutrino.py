"""Neutrino interactions: several particles from one vertex, boosted along the beam.

Charged-current muon neutrinos give a muon, electron neutrinos an electron shower,
neutral currents neither; all add protons, charged pions, photons from neutral pions
and low-energy activity (neutron scatters) around the vertex. One interaction per event
of the batch.
"""

from __future__ import annotations

import numpy as np

from ._blips import blip_energies
from ._directions import forward, normalize
from ._scene import Scene
from ._species import MUON_SP, PION_SP, PROTON_SP
from .event import LOW_ENERGY, NEUTRINO

RANK = 0  # the interaction is the last thing the occupancy budget drops
CHANNELS = ("numu_cc", "nue_cc", "nc")
_CHANNEL_CUMULATIVE = np.array([0.55, 0.75])


def add_neutrino_interactions(scene: Scene, margin: float = 0.15,
                              energy_scale: float = 1.0) -> None:
    """One interaction per event, its vertex uniform in the active volume less ``margin``
    of each side (beam neutrinos interact anywhere in the argon); ``energy_scale`` scales
    the lepton's and the pions' energies (a harder beam spectrum)."""
    rng, extent, b = scene.rng, scene.detector.extent, scene.count
    events = np.arange(b)
    vertex = rng.uniform(margin * extent, (1.0 - margin) * extent, size=(b, 3))
    channel = np.searchsorted(_CHANNEL_CUMULATIVE, rng.random(b), side="right")
    scene.info.update(channel=np.array(CHANNELS)[channel], vertex=vertex)

    ev = events[channel == 0]
    if ev.size:
        t_mu = np.clip(rng.lognormal(np.log(350.0), 0.6, ev.size), 40.0, 3000.0) * energy_scale
        mu = scene.add_charged(MUON_SP, vertex[ev], forward(rng, ev.size, 0.6), t_mu,
                               NEUTRINO, RANK, ev)
        scene.muons.append(mu)
        scene.delta_parents.append(mu)
    ev = events[channel == 1]
    if ev.size:
        energy = np.clip(rng.lognormal(np.log(300.0), 0.5, ev.size), 40.0, 1200.0) * energy_scale
        scene.add_shower(vertex[ev], forward(rng, ev.size, 0.6), energy, False, NEUTRINO,
                         RANK, ev)

    n_p = np.minimum(rng.poisson(1.3, b) + (channel == 2), 4)
    ev = np.repeat(events, n_p)
    if ev.size:
        t_p = np.minimum(15.0 + rng.exponential(70.0, ev.size), 450.0)
        scene.add_charged(PROTON_SP, vertex[ev], forward(rng, ev.size, 1.2), t_p, NEUTRINO,
                          RANK, ev)
    ev = np.repeat(events, np.minimum(rng.poisson(0.45, b), 3))
    if ev.size:
        t_pi = (30.0 + rng.exponential(150.0, ev.size)) * energy_scale
        pions = scene.add_charged(PION_SP, vertex[ev], forward(rng, ev.size, 1.0), t_pi,
                                  NEUTRINO, RANK, ev)
        scene.delta_parents.append(pions)
        add_pion_kinks(scene, pions)
    ev = events[rng.random(b) < np.where(channel == 2, 0.45, 0.25)]
    if ev.size:
        # pi0 -> two photons, each converting some distance from the vertex
        e_pi0 = 135.0 + rng.exponential(150.0, ev.size) * energy_scale
        share = rng.uniform(0.2, 0.8, ev.size)
        axis = forward(rng, ev.size, 0.8)
        dirs = normalize(np.concatenate([axis, axis]) + rng.standard_normal((2 * ev.size, 3)) * 0.5)
        scene.add_shower(np.concatenate([vertex[ev], vertex[ev]]), dirs,
                         np.concatenate([share, 1.0 - share]) * np.tile(e_pi0, 2), True,
                         NEUTRINO, RANK, np.tile(ev, 2))

    ev = np.repeat(events, rng.poisson(8, b))
    scene.add_blips(scene.scatter_around(vertex[ev], 40.0), blip_energies(rng, ev.size),
                    LOW_ENERGY, NEUTRINO, RANK, ev)


def add_pion_kinks(scene: Scene, pions: np.ndarray) -> None:
    """One or two hadronic scatters per pion, somewhere along its track."""
    rng = scene.rng
    n_kinks = 1 + (rng.random(pions.size) < 0.4)
    track = np.repeat(pions, n_kinks)
    n_steps = np.repeat(scene.tracks.steps_of(pions), n_kinks)
    steps = (rng.uniform(0.25, 0.85, track.size) * n_steps).astype(np.int64)
    scene.tracks.add_kinks(track, steps, rng.uniform(0.3, 1.2, track.size))
    scene.kinks.append((track, steps))
