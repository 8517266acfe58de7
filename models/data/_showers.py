"""Electromagnetic showers: a short trunk, then branches and fragments with gaps.

An electron starts a shower at the vertex; a photon first travels a gap (conversion
length ~9/7 X0) and starts it with a doubly ionising e+e- trunk. Beyond the trunk the
energy is spent on branches (electrons emerging from brems photons, placed along the
axis with a gamma-shaped longitudinal profile and a lateral spread growing with depth),
on shorter fragments hanging off the branches after photon gaps, and on Compton
scatters (low-energy blips) around the axis. Branches are walked with the primaries;
fragments start on the walked branches and are walked with the other secondaries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._blips import blip_energies
from ._detector import MOLIERE_RADIUS_CM, RADIATION_LENGTH_CM
from ._directions import deflect
from ._scene import Scene
from ._species import ELECTRON_SP, MIP_MEV_PER_CM
from ._track_list import TrackList, Tracks
from ._walker import Walked
from .event import LOW_ENERGY, SHOWER

CONVERSION_CM = 9.0 / 7.0 * RADIATION_LENGTH_CM
CRITICAL_MEV = 32.0  # liquid argon
_PROFILE_B = 0.5
_BRANCH_SHARE, _FRAGMENT_SHARE, _COMPTON_SHARE = 0.5, 0.35, 0.1


@dataclass(frozen=True)
class ShowerPlan:
    branches: np.ndarray  # track indices of all branches, grouped by shower
    branch_first: np.ndarray  # [S] first entry of each shower in ``branches``
    branch_count: np.ndarray  # [S]
    fragments: np.ndarray  # [S] fragments to hang off each shower's branches
    origin: np.ndarray  # [S]
    rank: np.ndarray  # [S]
    event: np.ndarray  # [S]


def plan_showers(scene: Scene) -> ShowerPlan | None:
    if not scene.shower_seeds:
        return None
    rng, det = scene.rng, scene.detector
    pitch = det.pitch_cm
    start, axis, energy, photon, origin, rank, event = (
        np.concatenate(c) for c in zip(*scene.shower_seeds, strict=True))
    s = energy.shape[0]
    pair = np.where(photon, 2.0, 1.0)
    gap_cm = np.where(photon, rng.exponential(CONVERSION_CM, s), 0.0)
    begin = start + axis * (gap_cm / pitch)[:, None]
    trunk_cm = np.where(photon, 1.0 + rng.exponential(4.0, s), 2.0 + rng.exponential(8.0, s))
    trunk_cm = np.minimum(trunk_cm, 0.3 * energy / MIP_MEV_PER_CM / pair)
    scene.tracks.add(begin, axis, np.maximum(np.ceil(trunk_cm / pitch), 1),
                     energy / MIP_MEV_PER_CM,
                     ELECTRON_SP, SHOWER, origin, rank, event, charge_scale=pair, pin=True)
    rest = np.maximum(energy - trunk_cm * MIP_MEV_PER_CM * pair, 0.0)

    n1 = np.clip(np.rint(rest / 20.0), 1, 24).astype(np.int64)
    owner = np.repeat(np.arange(s), n1)
    first = np.cumsum(n1) - n1
    lead = np.zeros(owner.size, bool)
    lead[first] = True  # the primary electron carrying on from the trunk's end
    length_cm = (_BRANCH_SHARE * rest / MIP_MEV_PER_CM / n1)[owner] * rng.uniform(
        0.5, 1.5, owner.size)
    # longitudinal profile dE/dt ~ t^(a-1) exp(-b t), t in X0, maximum at ln(E/Ec) + C
    t_max = np.maximum(np.log(np.maximum(rest, 1.0) / CRITICAL_MEV) + np.where(photon, 0.5, -0.5),
                       0.3)
    shape = 1.0 + _PROFILE_B * t_max
    depth_cm = trunk_cm[owner] + np.where(
        lead, 0.0, RADIATION_LENGTH_CM / _PROFILE_B * rng.gamma(shape[owner]))
    a = axis[owner]
    lateral = rng.standard_normal((owner.size, 3))
    lateral -= np.sum(lateral * a, axis=1, keepdims=True) * a
    width = 0.12 * MOLIERE_RADIUS_CM * (1.0 + depth_cm / RADIATION_LENGTH_CM)
    lateral *= np.where(lead, 0.0, width)[:, None]
    b_start = begin[owner] + (a * depth_cm[:, None] + lateral) / pitch
    b_dir = deflect(rng, a, np.where(lead, 0.1, 0.4))
    branches = scene.tracks.add(b_start, b_dir, np.maximum(np.ceil(length_cm / pitch), 1),
                                length_cm, ELECTRON_SP, SHOWER, origin[owner], rank[owner],
                                event[owner])

    n_c = np.minimum(rng.poisson(_COMPTON_SHARE * rest / 0.7), 40)
    c_owner = np.repeat(np.arange(s), n_c)
    if c_owner.size:
        c_axis = axis[c_owner]
        depth = trunk_cm[c_owner] + RADIATION_LENGTH_CM / _PROFILE_B * rng.gamma(
            shape[c_owner] + 0.5)
        spread = rng.standard_normal((c_owner.size, 3)) * 0.4 * MOLIERE_RADIUS_CM
        centres = begin[c_owner] + (c_axis * depth[:, None] + spread) / pitch
        scene.add_blips(centres, blip_energies(rng, c_owner.size), LOW_ENERGY, origin[c_owner],
                        rank[c_owner], event[c_owner])
    fragments = np.minimum(np.rint(_FRAGMENT_SHARE * rest / MIP_MEV_PER_CM / 3.5), 60)
    return ShowerPlan(branches, first, n1, fragments.astype(np.int64), origin, rank, event)


def add_fragments(plan: ShowerPlan, walked: Walked, primaries: Tracks, out: TrackList,
                  rng: np.random.Generator, pitch_cm: float) -> None:
    """Fragments start on a random point of a walked branch, mostly after a photon gap."""
    owner = np.repeat(np.arange(plan.fragments.size), plan.fragments)
    if owner.size == 0:
        return
    pick = plan.branch_first[owner] + (rng.random(owner.size) * plan.branch_count[owner]).astype(
        np.int64)
    branch = plan.branches[pick]
    step = (rng.random(owner.size) * primaries.n_steps[branch]).astype(np.int64)
    on_branch = walked.deposits.points[walked.first[branch] + step]
    direction = deflect(rng, primaries.direction[branch], 0.9)
    gap = np.where(rng.random(owner.size) < 0.6, rng.exponential(3.0, owner.size), 0.0)
    length_cm = 0.8 + rng.exponential(2.5, owner.size)
    out.add(on_branch + direction * (gap / pitch_cm)[:, None], direction,
            np.ceil(length_cm / pitch_cm), length_cm, ELECTRON_SP, SHOWER, plan.origin[owner],
            plan.rank[owner], plan.event[owner])
