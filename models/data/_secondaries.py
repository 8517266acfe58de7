"""Particles born on walked primary tracks: delta rays, Michel electrons, and protons
knocked out where pions scatter."""

from __future__ import annotations

import numpy as np

from ._directions import deflect, isotropic
from ._scene import Scene
from ._species import ELECTRON_SP, MIP_MEV_PER_CM, PROTON_SP, range_cm
from ._track_list import TrackList, Tracks
from ._walker import Walked
from .event import DELTA, MICHEL, TRACK

DELTA_PER_CM = 0.05  # knock-on electrons above ~1.5 MeV, enough to leave a visible stub
DELTA_T_MIN, DELTA_T_MAX = 1.5, 30.0
MICHEL_ENDPOINT_MEV = 52.8
DECAY_PROBABILITY = 0.85  # mu- may be captured instead


def add_secondaries(scene: Scene, walked: Walked, primaries: Tracks, out: TrackList) -> None:
    _delta_rays(scene, walked, primaries, out)
    _michel_electrons(scene, walked, primaries, out)
    _kink_protons(scene, walked, primaries, out)


def _delta_rays(scene: Scene, walked: Walked, primaries: Tracks, out: TrackList) -> None:
    if not scene.delta_parents:
        return
    rng, pitch = scene.rng, scene.detector.pitch_cm
    parents = np.concatenate(scene.delta_parents)
    count = rng.poisson(DELTA_PER_CM * primaries.n_steps[parents] * pitch)
    parent = np.repeat(parents, count)
    if parent.size == 0:
        return
    step = (rng.random(parent.size) * primaries.n_steps[parent]).astype(np.int64)
    start = walked.deposits.points[walked.first[parent] + step]
    # 1/T^2 spectrum between the visibility threshold and a cut-off
    u = rng.random(parent.size)
    kinetic = DELTA_T_MIN / (1.0 - u * (1.0 - DELTA_T_MIN / DELTA_T_MAX))
    length_cm = range_cm(np.full(parent.size, ELECTRON_SP), kinetic)
    direction = deflect(rng, primaries.direction[parent], 1.2)
    out.add(start, direction, np.ceil(length_cm / pitch), length_cm, ELECTRON_SP, DELTA,
            primaries.origin[parent], primaries.rank[parent], primaries.event[parent])


def _michel_electrons(scene: Scene, walked: Walked, primaries: Tracks, out: TrackList) -> None:
    if not scene.muons:
        return
    rng, det = scene.rng, scene.detector
    muons = np.concatenate(scene.muons)
    n = primaries.n_steps[muons]
    end = walked.deposits.points[walked.first[muons] + n - 1]
    stopped = primaries.range_cm[muons] <= (n + 1) * det.pitch_cm
    inside = np.all((end >= 0) & (end < det.size), axis=1)
    decays = stopped & inside & (rng.random(muons.size) < DECAY_PROBABILITY)
    muons, end = muons[decays], end[decays]
    if muons.size == 0:
        return
    energy = MICHEL_ENDPOINT_MEV * rng.random((muons.size, 3)).max(axis=1)
    # part of the energy leaves as bremsstrahlung photons: the blips around the track
    length_cm = energy / MIP_MEV_PER_CM * rng.uniform(0.4, 0.9, muons.size)
    direction = isotropic(rng, muons.size)
    out.add(end, direction, np.ceil(length_cm / det.pitch_cm), length_cm, ELECTRON_SP, MICHEL,
            primaries.origin[muons], primaries.rank[muons], primaries.event[muons])
    n_brems = rng.poisson(2.0, muons.size)
    owner = np.repeat(np.arange(muons.size), n_brems)
    if owner.size:
        reach = rng.exponential(15.0, owner.size) / det.pitch_cm
        centres = end[owner] + deflect(rng, direction[owner], 0.5) * reach[:, None]
        muon = muons[owner]
        scene.add_blips(centres, 0.5 + rng.exponential(2.0, owner.size), MICHEL,
                        primaries.origin[muon], primaries.rank[muon], primaries.event[muon])


def _kink_protons(scene: Scene, walked: Walked, primaries: Tracks, out: TrackList) -> None:
    if not scene.kinks:
        return
    rng = scene.rng
    track = np.concatenate([k[0] for k in scene.kinks])
    step = np.concatenate([k[1] for k in scene.kinks])
    emit = rng.random(track.size) < 0.5
    track, step = track[emit], step[emit]
    if track.size == 0:
        return
    step = np.minimum(step, primaries.n_steps[track] - 1)
    start = walked.deposits.points[walked.first[track] + step]
    kinetic = 10.0 + rng.exponential(40.0, track.size)
    scene.add_charged(PROTON_SP, start, isotropic(rng, track.size), kinetic,
                      primaries.origin[track], primaries.rank[track], primaries.event[track],
                      TRACK, into=out)
