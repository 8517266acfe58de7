"""GP proposals at a bounded cost: the GP is fitted on an active set, not the whole study.

Optuna's GPSampler fits on every complete trial and conditions on every running one, so an
ask costs O(n^3) and a campaign of thousands of trials stalls its driver. Here each proposal
comes from `GPSampler.sample_relative` on a small in-memory study holding at most
MAX_COMPLETE complete trials (the best half and the most recent half) and the MAX_RUNNING most
recent running ones. Below those sizes the active set is the whole study and the proposal
is the plain ask's; above, an ask costs the same however large the campaign grows.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import InMemoryStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpsearch import _optuna_internals as internals
from hpsearch._tpe_batch import single_value

MAX_COMPLETE = 128
MAX_RUNNING = 32


def gp_proposal(study: optuna.Study,
                distributions: Mapping[str, BaseDistribution]) -> dict[str, Any] | None:
    """One parameter set from the GP on the active set; None when the plain ask applies
    (another sampler, a small study, or the GP's own random start-up)."""
    sampler = study.sampler
    if type(sampler) is not optuna.samplers.GPSampler or study._is_multi_objective():
        return None
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    limit = max(MAX_COMPLETE, internals.gp_startup_trials(sampler))
    if len(complete) <= limit and len(running) <= MAX_RUNNING:
        return None  # the whole study is small: the plain ask sees the same trials
    sign = 1.0 if study.direction == StudyDirection.MINIMIZE else -1.0
    best = sorted(complete, key=lambda t: (sign * t.values[0], t.number))[: limit // 2]
    chosen = {t.number for t in best}
    recent = [t for t in reversed(complete) if t.number not in chosen][: limit - len(best)]
    active = sorted(best + recent, key=lambda t: t.number) + running[-MAX_RUNNING:]
    varying = {name: d for name, d in distributions.items() if not d.single()}

    storage = InMemoryStorage()
    study_id = storage.create_new_study([study.direction], "active-set")
    for trial in active:
        storage.create_new_trial(study_id, template_trial=trial)
    trial_id = storage.create_new_trial(study_id, template_trial=_blank_running())
    sub = optuna.Study(study_name="active-set", storage=storage, sampler=sampler)
    params = sampler.sample_relative(sub, storage.get_trial(trial_id), varying)
    if set(params) != set(varying):
        return None
    return {name: params.get(name, single_value(dist)) for name, dist in distributions.items()}


def _blank_running() -> FrozenTrial:
    return FrozenTrial(number=-1, trial_id=-1, state=TrialState.RUNNING, value=None,
                       datetime_start=datetime.datetime.now(), datetime_complete=None,
                       params={}, distributions={}, user_attrs={}, system_attrs={},
                       intermediate_values={})
