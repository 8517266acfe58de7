"""Several TPE proposals from one fit of its two Parzen estimators.

Each TPE ask converts every trial of the study to arrays and builds the "good" and "bad"
Parzen estimators again; with 1,500 running trials (all of them liars in the "bad" set) that
conversion is most of the cost. Here one fit draws `n_ei_candidates` candidates per proposal
and keeps the best of each group, exactly what one ask does, for up to a tenth as many
proposals as the fit saw trials; then the proposals join the study as running trials (liars)
and the next fit sees them. With one proposal per fit the result is the ask's, draw for draw.

Two bounds keep a fit's cost and memory flat however large the campaign grows:
- the "bad" estimator is fitted on at most MAX_ABOVE trials, a seeded uniform sample of the
  trials that are not among the best (running ones, the liars, included); the best ones,
  which make the "good" estimator, are always all there. Up to MAX_ABOVE trials nothing
  changes, so small and medium campaigns propose exactly what TPE's ask would.
- candidates are scored in chunks of at most CANDIDATE_CELLS candidate x component pairs,
  so the acquisition's arrays stay small whatever the batch.

This leans on TPESampler's internals (all through `_optuna_internals`): anything unusual
(group decomposition, multi-objective, constraints, a subclass, no constant liar, a dynamic
space) returns no proposals and the caller asks the sampler one trial at a time instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpsearch import _optuna_internals as internals

# New liars a fit may hand out, as a fraction of the trials it was fitted on: a batch that is
# small next to the study changes the "bad" estimator little, so refitting would not pay.
LIAR_FRACTION_PER_FIT = 0.1
MAX_ABOVE = 512  # trials in the "bad" estimator at most: its scoring is most of a fit's cost
REFIT_FRACTION = 0.01  # new results, as a fraction of the finished trials, that make a refit
CANDIDATE_CELLS = 1_000_000  # candidates x estimator components scored at once (~8 MB per array)

_MODEL_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


@dataclass
class _Fit:
    below: Any
    above: Any
    search_space: dict[str, BaseDistribution]
    n_finished: int
    left: int  # proposals this fit may still hand out
    n_components: int


class TPEBatch:
    """Proposals from one TPE fit, kept across asks until it is stale: once it handed out a
    tenth as many proposals as it saw trials, or once new results reach REFIT_FRACTION of
    the finished trials it saw (so below ~100 finished trials, every new result refits, as
    Optuna's own ask does). A driver asking a few trials whenever a few workers free up then
    pays for one fit per many proposals, not one per ask."""

    def __init__(self) -> None:
        self._fit: _Fit | None = None

    def proposals(self, study: optuna.Study, distributions: Mapping[str, BaseDistribution],
                  limit: int, n_finished: int) -> list[dict[str, Any]]:
        """Up to `limit` parameter sets; [] when batching does not apply (the caller asks the
        sampler one trial at a time). `n_finished`: the study's COMPLETE and PRUNED trials."""
        fit = self._fit
        if (fit is None or fit.left <= 0
                or n_finished - fit.n_finished >= max(1.0, REFIT_FRACTION * fit.n_finished)):
            fit = self._fit = _refit(study, distributions, n_finished)
        if fit is None:
            return []
        count = max(1, min(limit, fit.left))
        fit.left -= count
        return _draw(study.sampler, fit, distributions, count)  # type: ignore[arg-type]


def _refit(study: optuna.Study, distributions: Mapping[str, BaseDistribution],
           n_finished: int) -> _Fit | None:
    sampler = study.sampler
    if not internals.tpe_batch_applicable(sampler, study):
        return None
    assert isinstance(sampler, optuna.samplers.TPESampler)
    if n_finished < internals.tpe_startup_trials(sampler):
        return None  # the random start-up: the plain ask is cheap then
    search_space = sampler.infer_relative_search_space(study, _NO_TRIAL)
    varying = {name: d for name, d in distributions.items() if not d.single()}
    if search_space != varying:
        return None
    trials = internals.study_trials(study, _MODEL_STATES)
    n_finished = sum(t.state != TrialState.RUNNING for t in trials)
    n_below = internals.tpe_below_count(sampler, n_finished)
    fitted = _bounded(trials, n_below, study.direction, sampler)
    below, above = internals.tpe_fit(sampler, study, search_space, fitted, n_finished)
    return _Fit(below, above, search_space, n_finished,
                max(1, int(LIAR_FRACTION_PER_FIT * len(trials))), len(fitted))


def _draw(sampler: optuna.samplers.TPESampler, fit: _Fit,
          distributions: Mapping[str, BaseDistribution], count: int) -> list[dict[str, Any]]:
    """`count` proposals, each the best of `n_ei_candidates` draws, scored in chunks."""
    n_ei = internals.tpe_candidates(sampler)
    fixed = {name: single_value(d) for name, d in distributions.items() if d.single()}
    groups_per_chunk = max(1, CANDIDATE_CELLS // (n_ei * (fit.n_components + 2)))
    proposals = []
    for first in range(0, count, groups_per_chunk):
        groups = min(groups_per_chunk, count - first)
        samples, acquisition = internals.tpe_draw(sampler, fit.below, fit.above, n_ei * groups)
        for group in range(groups):
            best = group * n_ei + int(np.argmax(acquisition[group * n_ei: (group + 1) * n_ei]))
            params = {
                name: dist.to_external_repr(samples[name][best].item())
                for name, dist in fit.search_space.items()
            }
            proposals.append({name: {**params, **fixed}[name] for name in distributions})
    return proposals


def _bounded(trials: list[FrozenTrial], n_below: int, direction: StudyDirection,
             sampler: optuna.samplers.TPESampler) -> list[FrozenTrial]:
    """The trials to fit on: all of them up to MAX_ABOVE + n_below, else the best `n_below`
    complete ones and a seeded sample of MAX_ABOVE others, in their original order."""
    if len(trials) <= MAX_ABOVE + n_below:
        return trials
    sign = 1.0 if direction == StudyDirection.MINIMIZE else -1.0
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = {t.number for t in sorted(complete, key=lambda t: (sign * t.values[0], t.number))
            [:n_below]}
    others = [i for i, t in enumerate(trials) if t.number not in best]
    rng = internals.tpe_rng(sampler)
    chosen = set(rng.choice(len(others), size=min(MAX_ABOVE, len(others)), replace=False))
    keep = {others[i] for i in chosen}
    return [t for i, t in enumerate(trials) if t.number in best or i in keep]


def single_value(distribution: BaseDistribution) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[0]
    return distribution.low  # type: ignore[attr-defined]


# TPESampler reads the trial only in its group mode, which is excluded above.
_NO_TRIAL: FrozenTrial = None  # type: ignore[assignment]
