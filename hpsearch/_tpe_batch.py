"""Several TPE proposals from one fit of its two Parzen estimators.

Each TPE ask converts every trial of the study to arrays and builds the "good" and "bad"
Parzen estimators again; with 1,500 running trials (all of them liars in the "bad" set) that
conversion is most of the cost. Here one fit draws `n_ei_candidates` candidates per proposal
and keeps the best of each group, exactly what one ask does, for up to a tenth as many
proposals as the fit saw trials; then the proposals join the study as running trials (liars)
and the next fit sees them. With one proposal per fit the result is the ask's, draw for draw.

This leans on TPESampler's internals (all through `_optuna_internals`): anything unusual
(group decomposition, multi-objective, constraints, a subclass, no constant liar, a dynamic
space) returns no proposals and the caller asks the sampler one trial at a time instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from hpsearch import _optuna_internals as internals

# New liars a fit may hand out, as a fraction of the trials it was fitted on: a batch that is
# small next to the study changes the "bad" estimator little, so refitting would not pay.
LIAR_FRACTION_PER_FIT = 0.1

_MODEL_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


def tpe_proposals(
    study: optuna.Study, distributions: Mapping[str, BaseDistribution], limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` parameter sets from one fit of `study.sampler`; [] when not applicable."""
    sampler = study.sampler
    if not internals.tpe_batch_applicable(sampler, study):
        return []
    assert isinstance(sampler, optuna.samplers.TPESampler)
    finished = internals.study_trials(study, (TrialState.COMPLETE, TrialState.PRUNED))
    if len(finished) < internals.tpe_startup_trials(sampler):
        return []  # the random start-up: the plain ask is cheap then
    search_space = sampler.infer_relative_search_space(study, _NO_TRIAL)
    varying = {name: d for name, d in distributions.items() if not d.single()}
    if search_space != varying:
        return []

    trials = internals.study_trials(study, _MODEL_STATES)
    n_finished = sum(t.state != TrialState.RUNNING for t in trials)
    mpe_below, mpe_above = internals.tpe_fit(sampler, study, search_space, trials, n_finished)

    count = max(1, min(limit, int(LIAR_FRACTION_PER_FIT * len(trials))))
    n_ei = internals.tpe_candidates(sampler)
    samples, acquisition = internals.tpe_draw(sampler, mpe_below, mpe_above, n_ei * count)
    fixed = {name: _single_value(d) for name, d in distributions.items() if d.single()}
    proposals = []
    for group in range(count):
        best = group * n_ei + int(np.argmax(acquisition[group * n_ei : (group + 1) * n_ei]))
        params = {
            name: dist.to_external_repr(samples[name][best].item())
            for name, dist in search_space.items()
        }
        proposals.append({name: {**params, **fixed}[name] for name in distributions})
    return proposals


def _single_value(distribution: BaseDistribution) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[0]
    return distribution.low  # type: ignore[attr-defined]


# TPESampler reads the trial only in its group mode, which is excluded above.
_NO_TRIAL: FrozenTrial = None  # type: ignore[assignment]
