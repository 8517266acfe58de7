"""A monotone warp of the objective values before the GP models them.

A GP assumes values spread like a Gaussian; a loss surface rarely does: a few poor trials
(a diverged run, the far side of a valley) sit orders of magnitude above the rest, the
standardised values of every good trial crowd near one point, and the GP's mean is coarse
exactly where the search needs it to be fine. A Yeo-Johnson power transform, its exponent
fitted to make the values as Gaussian as it can, spreads them again. It is
monotone: the best trial stays the best, only distances between values change.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

__all__ = ["WarpedGPSampler", "warp_values", "warped_trials"]


def warp_values(values: np.ndarray) -> np.ndarray:
    """Yeo-Johnson of the standardised values (unchanged when fewer than 3 or all equal)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 3 or not np.all(np.isfinite(values)):
        return values
    spread = values.std()
    if spread <= 0.0:
        return values
    from scipy import stats  # here: `status` and `best` read campaigns and never load scipy

    standard = (values - values.mean()) / spread
    warped, _ = stats.yeojohnson(standard)
    return warped if np.all(np.isfinite(warped)) else values


def warped_trials(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """Copies of single-objective trials with their values warped."""
    values = warp_values(np.array([t.values[0] for t in trials]))
    out = []
    for trial, value in zip(trials, values, strict=True):
        clone = copy.copy(trial)
        clone.values = [float(value)]
        out.append(clone)
    return out


class WarpedGPSampler(optuna.samplers.GPSampler):
    """Optuna's GPSampler fitted on warped values (single objective; constraints and the
    acquisition unchanged: the warp keeps the order, so the best trial is still the best)."""

    def _sample_relative_impl(self, study: optuna.Study, completed_trials: list[FrozenTrial],
                              running_trials: list[FrozenTrial],
                              search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        # A private method of GPSampler (listed in `_optuna_internals`): the one place that
        # sees the complete trials just before their values are standardised.
        if not study._is_multi_objective():
            completed_trials = warped_trials(completed_trials)
        return super()._sample_relative_impl(
            study, completed_trials, running_trials, search_space)
