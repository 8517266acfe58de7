"""Ask for many trials at once with one read of the study.

Asking a model-based sampler one trial at a time against SQLite rereads every running trial
on every ask (the constant liar needs them), so filling thousands of worker slots takes
minutes. Here the study is read once into an in-memory mirror, the study's own sampler
proposes the whole batch there (each proposal sees the previous ones as running trials, so
the constant liar still spreads the batch), and only the results are written to the real
storage: one insert per new trial. For TPE one fit of its estimators serves many proposals
(see `_tpe_batch`); other samplers are asked once per trial, in memory.

The mirror holds the WAITING trials too, in the same order, so enqueued points (the LHS
design, retries) are handed out first with their fixed parameters exactly as `study.ask`
would, and trial numbers agree between mirror and study.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import InMemoryStorage
from optuna.trial import FrozenTrial, Trial, TrialState

from hpsearch._tpe_batch import tpe_proposals

__all__ = ["ask_batch"]


def ask_batch(
    study: optuna.Study, k: int, distributions: Mapping[str, BaseDistribution]
) -> list[Trial]:
    """`k` new RUNNING trials of `study`, each with every parameter of `distributions` set.

    Enqueued (WAITING) trials come first with their fixed parameters; the rest are proposed
    by `study.sampler` from one snapshot of the study. The driver must be the only process
    asking this study while the call runs.
    """
    if k <= 0:
        return []
    distributions = dict(distributions)
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    if len(waiting) >= k and all(_fully_fixed(t, distributions) for t in waiting[:k]):
        # The design phase: fixed parameters never reach the sampler, no snapshot needed.
        return [study.ask(distributions) for _ in range(k)]

    mirror = _mirror(study)
    trials = []
    n_popped = min(k, len(waiting))
    for _ in range(n_popped):
        proposal = mirror.ask(distributions)
        trials.append(_pop_waiting_with(study, proposal.params, distributions, proposal.number))
    while len(trials) < k:
        proposals = tpe_proposals(mirror, distributions, k - len(trials))
        if proposals:
            for params in proposals:
                # The mirror keeps each proposal as a running trial: a liar for the next fit.
                _insert_running(mirror, params, distributions)
                trials.append(Trial(study, _insert_running(study, params, distributions)))
        else:
            params = mirror.ask(distributions).params
            trials.append(Trial(study, _insert_running(study, params, distributions)))
    return trials


def _fully_fixed(trial: FrozenTrial, distributions: Mapping[str, BaseDistribution]) -> bool:
    return distributions.keys() <= trial.system_attrs.get("fixed_params", {}).keys()


def _mirror(study: optuna.Study) -> optuna.Study:
    storage = InMemoryStorage()
    # Give the mirror the real study's id: samplers remember the id of the study they serve
    # and refuse another, so the driver may still mix plain `study.ask` with batches.
    storage._max_study_id = study._study_id - 1
    name = study.study_name
    # The storage logs every study it creates; a mirror per batch would flood the log.
    log = logging.getLogger(InMemoryStorage.__module__)
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        study_id = storage.create_new_study(list(study.directions), name)
    finally:
        log.setLevel(level)
    for trial in study.get_trials(deepcopy=False):
        storage.create_new_trial(study_id, template_trial=trial)
    return optuna.Study(study_name=name, storage=storage, sampler=study.sampler)


def _pop_waiting_with(
    study: optuna.Study,
    params: Mapping[str, object],
    distributions: Mapping[str, BaseDistribution],
    expected_number: int,
) -> Trial:
    # Without distributions, `ask` only pops the trial: the sampler is not consulted on the
    # real study, the mirror already chose the parameters the trial did not fix.
    trial = study.ask()
    if trial.number != expected_number:
        raise RuntimeError(
            f"the waiting trials changed during ask_batch (got trial {trial.number}, "
            f"expected {expected_number}): only one process may ask this study"
        )
    for name, dist in distributions.items():
        study._storage.set_trial_param(
            trial._trial_id, name, dist.to_internal_repr(params[name]), dist
        )
    return Trial(study, trial._trial_id)


def _insert_running(
    study: optuna.Study,
    params: Mapping[str, object],
    distributions: Mapping[str, BaseDistribution],
) -> int:
    """One insert: a RUNNING trial with all its parameters; returns its trial id."""
    template = FrozenTrial(
        number=-1,  # the storage assigns the number
        state=TrialState.RUNNING,
        value=None,
        datetime_start=datetime.datetime.now(),
        datetime_complete=None,
        params=dict(params),
        distributions=dict(distributions),
        user_attrs={},
        system_attrs={},
        intermediate_values={},
        trial_id=-1,
    )
    return study._storage.create_new_trial(study._study_id, template_trial=template)
