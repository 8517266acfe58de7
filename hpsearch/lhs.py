"""Latin-hypercube design over a whole search space (the campaign's initial trials).

Each parameter's unit coordinate u is stratified: with n points, exactly one point falls in
each interval [i/n, (i+1)/n). The mapping from u to a value keeps that property visible:

- float: low + u * (high - low); log floats do the same in log space.
- int and stepped float: the k values of the grid are k equal slices of [0, 1), value index
  floor(u * k). With n == k every value appears once; when n is a multiple of k every value
  appears n / k times; when k is a multiple of n every block of k / n consecutive values holds
  one point.
- log int: log-uniform over [low, high + 1), then floor, so every integer is reachable with
  weight log((v + 1) / v).
- categorical: choice index floor(u * len(choices)), balanced like an int.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import qmc

from hpsearch.space import CategoricalParam, FloatParam, IntParam, Param, SearchSpace


def latin_hypercube(space: SearchSpace, n: int, seed: int | None) -> list[dict[str, Any]]:
    """`n` points as `{name: value}` dicts, deterministic for a given seed.

    Values are plain Python objects inside the parameters' Optuna distributions, ready for
    `study.enqueue_trial`.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n == 0:
        return []
    unit = qmc.LatinHypercube(d=space.dimension, rng=np.random.default_rng(seed)).random(n)
    columns = [_map_column(p, unit[:, j]) for j, p in enumerate(space.params)]
    # A conditional parameter whose condition a point does not meet is left out of it.
    return [space.active(dict(zip(space.names, row, strict=True)))
            for row in zip(*columns, strict=True)]


def _grid_index(u: np.ndarray, k: int) -> np.ndarray:
    # Clipping guards u * k rounding up to k for u just below 1.
    return np.minimum(np.floor(u * k).astype(np.int64), k - 1)


def _map_column(param: Param, u: np.ndarray) -> list[Any]:
    if isinstance(param, CategoricalParam):
        return [param.choices[i] for i in _grid_index(u, len(param.choices))]
    if isinstance(param, IntParam):
        if param.log:
            lo, hi = math.log(param.low), math.log(param.high + 1)
            steps = np.floor(np.exp(lo + u * (hi - lo))).astype(np.int64)
            return [int(v) for v in np.clip(steps, param.low, param.high)]
        k = (param.high - param.low) // param.step + 1
        return [int(param.low + i * param.step) for i in _grid_index(u, k)]
    assert isinstance(param, FloatParam)
    if param.step is not None:
        k = round((param.high - param.low) / param.step) + 1
        # Optuna checks grid membership relative to low, so build values from low.
        values: np.ndarray = param.low + _grid_index(u, k) * param.step
        # Print 0.3, not 0.30000000000000004: round far below the step, still on its grid.
        values = np.round(values, 12 - math.floor(math.log10(param.step)))
    elif param.log:
        lo, hi = math.log(param.low), math.log(param.high)
        values = np.exp(lo + u * (hi - lo))
    else:
        values = param.low + u * (param.high - param.low)
    return [float(v) for v in np.clip(values, param.low, param.high)]
