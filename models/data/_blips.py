"""Low-energy deposits of one to three voxels: Compton electrons, neutron captures,
radiological decays."""

from __future__ import annotations

import numpy as np

from ._deposits import Deposits, pack_label, pack_slot

_NEIGHBOURS = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0]])


def blips(
    rng: np.random.Generator,
    centres: np.ndarray,
    energy_mev: np.ndarray,
    semantic: int,
    origin: int | np.ndarray,
    rank: int | np.ndarray,
    event: np.ndarray,
) -> Deposits:
    """One blip per centre; its energy is shared by 1-3 neighbouring voxels."""
    k = centres.shape[0]
    n = 1 + rng.binomial(2, 0.3, size=k)
    seg = np.repeat(np.arange(k), n)
    within = np.arange(seg.size) - np.repeat(np.cumsum(n) - n, n)
    offsets = _NEIGHBOURS[np.where(within == 0, 0, rng.integers(1, 6, size=seg.size))]
    share = rng.random(seg.size) + 0.5
    share /= np.bincount(seg, share, minlength=k)[seg]
    label = np.broadcast_to(pack_label(semantic, origin), (k,))
    slot = pack_slot(event, rank)
    return Deposits(centres[seg] + offsets, energy_mev[seg] * share, label[seg], slot[seg])


def blip_energies(rng: np.random.Generator, k: int, mean_mev: float = 0.6) -> np.ndarray:
    return 0.1 + rng.exponential(mean_mev, size=k)
