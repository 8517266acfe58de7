"""Merge deposits that land in the same voxel or pixel: charge adds up, the label comes
from the deposit with the most charge.

No Python loop, one sort. Consecutive deposits of one track often share a voxel, so
runs of equal (key, label) are merged first (a "deposit" is then one particle's charge
in the voxel). Key, inverted charge level and position are then packed into one int64,
so a plain SIMD sort orders deposits by key and, within a key, by decreasing charge,
and the low bits give back the permutation: ~3x faster than an argsort.
"""

from __future__ import annotations

import numpy as np

_LEVEL_BITS = 8
_LEVELS = (1 << _LEVEL_BITS) - 1
# The bit pattern of a positive float32 grows with its value: its top bits (exponent and
# 3 mantissa bits) are a free logarithm with 8 levels per octave; 1e-4 MeV is level 0.
_MANTISSA_DROP = 20
_FLOOR = int(np.array(1e-4, np.float32).view(np.int32)) >> _MANTISSA_DROP


def _segment_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of values[starts[i]:starts[i+1]] (and to the end); faster than reduceat."""
    total = np.cumsum(values)
    ends = total[np.append(starts[1:] - 1, values.size - 1)]
    ends[1:] -= ends[:-1].copy()
    return ends


def aggregate(
    keys: np.ndarray, charge: np.ndarray, label: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique ``keys`` (sorted), summed ``charge`` and ``label`` of the largest deposit."""
    if keys.size == 0:
        return keys, charge, label
    new_run = np.empty(keys.size, bool)
    new_run[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new_run[1:])
    new_run[1:] |= label[1:] != label[:-1]
    runs = np.flatnonzero(new_run)
    keys, label = keys[runs], label[runs]
    charge = _segment_sums(charge, runs)

    n = keys.size
    bits = charge.astype(np.float32).view(np.int32) >> _MANTISSA_DROP
    level = np.clip(bits - _FLOOR, 0, _LEVELS).astype(np.int64)
    index_bits = max(1, (n - 1).bit_length())
    key_bits = max(1, int(keys.max()).bit_length())
    if key_bits + _LEVEL_BITS + index_bits <= 62:
        packed = keys << (_LEVEL_BITS + index_bits)
        packed |= (_LEVELS - level) << index_bits
        packed |= np.arange(n, dtype=np.int64)
        packed.sort()
        order = packed & ((1 << index_bits) - 1)
        sorted_keys = packed >> (_LEVEL_BITS + index_bits)
    else:  # keys too wide to pack (huge cubes): the slower two-key sort
        order = np.lexsort((-charge, keys))
        sorted_keys = keys[order]
    starts = np.empty(n, bool)
    starts[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts[1:])
    starts = np.flatnonzero(starts)
    sums = _segment_sums(charge[order], starts)
    return sorted_keys[starts], sums, label[order[starts]]
