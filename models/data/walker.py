"""Step every track of an event through liquid argon at once (no per-step Python loop).

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

from .deposits import Deposits
from .detector import RADIATION_LENGTH_CM
from .species import MASS_MEV, kinetic_mev
from .track_list import Tracks

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
    ended. Every track has at least one step, so ``first`` is strictly increasing."""
    x = values.copy()
    totals = np.add.reduceat(values, first, axis=0)
    x[first[0]] += initial[0]
    x[first[1:]] += initial[1:] - initial[:-1] - totals[:-1]
    return np.cumsum(x, axis=0)


def walk(tracks: Tracks, rng: np.random.Generator, pitch_cm: float) -> Walked:
    n = tracks.n_steps
    k = n.shape[0]
    first = np.cumsum(n) - n
    total = int(n.sum())
    if total == 0:
        empty = np.zeros(0, np.int64)
        return Walked(Deposits.concat([]), empty, first)
    seg = np.repeat(np.arange(k), n)
    step = np.arange(total) - first[seg]
    species = tracks.species[seg]

    residual = tracks.range_cm[seg] - step * pitch_cm
    t_in = kinetic_mev(species, np.maximum(residual, 0.0))
    # what a step leaves is what the next step starts with, except at each track's end
    last = first + n - 1
    t_out = np.empty_like(t_in)
    t_out[:-1] = t_in[1:]
    has_steps = n > 0
    t_out[last[has_steps]] = kinetic_mev(
        tracks.species[has_steps],
        np.maximum(tracks.range_cm[has_steps] - n[has_steps] * pitch_cm, 0.0))

    mass = MASS_MEV[species]
    t_mid = np.maximum(0.5 * (t_in + t_out), 0.05)
    beta_p = t_mid * (t_mid + 2.0 * mass) / (t_mid + mass)
    x = pitch_cm / RADIATION_LENGTH_CM
    theta0 = (13.6 * np.sqrt(x) * (1.0 + 0.038 * np.log(x))) / beta_p
    theta0 = np.minimum(theta0 * tracks.scatter_scale[seg], 0.6)

    noise = rng.standard_normal((total, 3)) * theta0[:, None]
    if tracks.kink_track.size:
        at = first[tracks.kink_track] + np.minimum(tracks.kink_step, n[tracks.kink_track] - 1)
        noise[at] += rng.standard_normal((at.size, 3)) * tracks.kink_size[:, None]
    direction = _segment_cumsum(noise, first, tracks.direction)
    direction /= np.sqrt(np.einsum("ij,ij->i", direction, direction))[:, None]
    points = _segment_cumsum(direction, first, tracks.start)
    points -= 0.5 * direction

    if tracks.pin.any():
        # Brownian bridge: keep the wiggles but end where the straight line ends, so
        # shower branches that continue from this end join up.
        target = tracks.start + tracks.direction * (n[:, None] - 0.5)
        miss = np.where(tracks.pin[:, None] & (n[:, None] > 0), target - points[last], 0.0)
        points += miss[seg] * ((step + 1) / n[seg])[:, None]

    z = rng.standard_normal(total)
    landau = 1.0 + _LANDAU_WIDTH * (-np.log(z * z + 1e-12) - _MOYAL_MEAN)
    charge = (t_in - t_out) * np.clip(landau, 0.2, 5.0) * tracks.charge_scale[seg]
    deposits = Deposits(points, charge, tracks.semantic[seg], tracks.origin[seg],
                        tracks.rank[seg], tracks.event[seg])
    return Walked(deposits, seg, first)
