"""Step every track of a batch of events through liquid argon at once (no per-step loop).

Each track advances one voxel per step. Its direction is a random walk whose per-step
angle is the Highland multiple-scattering width for the momentum left at that residual
range, so tracks wiggle more as they slow down; kinks add a large deflection at one step.
The charge of a step is the kinetic energy it loses (Bragg peak at the end of stopping
tracks) times a Landau-like (Moyal) fluctuation. Tracks are handled as segments of flat
arrays: cumulative sums run over the whole batch and subtract each track's offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._deposits import Deposits, pack_label, pack_slot
from ._detector import RADIATION_LENGTH_CM
from ._species import MASS_MEV, kinetic_mev
from ._track_list import Tracks

_MOYAL_MEAN = 1.2704  # mean of -ln(z^2), z standard normal
_LANDAU_WIDTH = 0.12


@dataclass(frozen=True)
class Walked:
    deposits: Deposits
    track: np.ndarray  # int [P], track index of each point
    first: np.ndarray  # int [K], index of each track's first point


def _segment_cumsum(values: np.ndarray, first: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """Per-track running sums of ``values`` [P, 3] starting from ``initial`` [K, 3], with
    one global cumsum: each track's first element also cancels where the previous track
    ended. Every track has at least one step, so ``first`` is strictly increasing.
    Works in place: ``values`` is overwritten (fresh large arrays cost page faults)."""
    totals = np.add.reduceat(values, first, axis=0)
    values[first[0]] += initial[0]
    values[first[1:]] += initial[1:] - initial[:-1] - totals[:-1]
    return np.cumsum(values, axis=0, out=values)


def walk(tracks: Tracks, rng: np.random.Generator, pitch_cm: float) -> Walked:
    n = tracks.n_steps
    k = n.shape[0]
    first = np.cumsum(n) - n
    if k == 0:
        return Walked(Deposits.concat([]), np.zeros(0, np.int64), first)
    total = int(n.sum())
    seg = np.repeat(np.arange(k), n)
    species = tracks.species[seg]

    residual = (tracks.range_cm + first * pitch_cm)[seg]
    residual -= np.arange(total) * pitch_cm
    np.maximum(residual, 0.0, out=residual)
    t_in = kinetic_mev(species, residual)
    # what a step leaves is what the next step starts with, except at each track's end
    last = first + n - 1
    t_out = np.empty_like(t_in)
    t_out[:-1] = t_in[1:]
    t_out[last] = kinetic_mev(tracks.species, np.maximum(tracks.range_cm - n * pitch_cm, 0.0))

    # Highland width for the kinetic energy in the middle of the step
    t = t_in + t_out
    t *= 0.5
    np.maximum(t, 0.05, out=t)
    mass = MASS_MEV[species]
    energy = t + mass
    beta_p = t + 2.0 * mass  # beta * p = T (T + 2m) / (T + m)
    beta_p *= t
    beta_p /= energy
    x = pitch_cm / RADIATION_LENGTH_CM
    theta0 = (13.6 * np.sqrt(x) * (1.0 + 0.038 * np.log(x))) / beta_p
    theta0 *= tracks.scatter_scale[seg]
    np.minimum(theta0, 0.6, out=theta0)

    direction = rng.standard_normal((total, 3))
    direction *= theta0[:, None]
    if tracks.kink_track.size:
        at = first[tracks.kink_track] + np.minimum(tracks.kink_step, n[tracks.kink_track] - 1)
        direction[at] += rng.standard_normal((at.size, 3)) * tracks.kink_size[:, None]
    direction = _segment_cumsum(direction, first, tracks.direction)
    direction /= np.sqrt(np.einsum("ij,ij->i", direction, direction))[:, None]
    points = _segment_cumsum(direction.copy(), first, tracks.start)
    points -= 0.5 * direction

    pinned = np.flatnonzero(tracks.pin[seg])
    if pinned.size:
        # Brownian bridge: keep the wiggles but end where the straight line ends, so
        # shower branches that continue from this end join up.
        miss = tracks.start + tracks.direction * (n[:, None] - 0.5) - points[last]
        owner = seg[pinned]
        points[pinned] += miss[owner] * ((pinned - first[owner] + 1) / n[owner])[:, None]

    # Landau-like fluctuation: a Moyal variate is -ln(z^2) for a standard normal z
    fluctuation = rng.standard_normal(total)
    fluctuation *= fluctuation
    fluctuation += 1e-12
    np.log(fluctuation, out=fluctuation)
    fluctuation *= -_LANDAU_WIDTH
    fluctuation += 1.0 - _LANDAU_WIDTH * _MOYAL_MEAN
    np.clip(fluctuation, 0.2, 5.0, out=fluctuation)
    charge = t_in - t_out
    charge *= fluctuation
    charge *= tracks.charge_scale[seg]
    label = pack_label(tracks.semantic, tracks.origin)
    slot = pack_slot(tracks.event, tracks.rank)
    return Walked(Deposits(points, charge, label[seg], slot[seg]), seg, first)
