"""The driver's in-memory view of the study, written through to the real storage.

The driver is the only writer of the study, so after one read at start-up it never needs to
read the database again: every change goes to an in-memory Optuna study (where the sampler
and the pruner run, at memory speed) and, with the same trial number, to the storage.
Trial numbers agree because both sides see the same creations in the same order.

Asking is batched: `ask(k)` hands out WAITING trials first (the LHS design, then retries,
with their fixed parameters, exactly as `study.ask` would) and lets the sampler propose the
rest from the in-memory trials; each proposal sees the earlier ones of the batch as running,
so the constant liar still spreads a batch.
"""

from __future__ import annotations

import datetime
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import BaseStorage, InMemoryStorage
from optuna.trial import FrozenTrial, TrialState

from hpsearch._optuna_internals import constraint_attr
from hpsearch._tpe_batch import tpe_proposals
from hpsearch.best import best_of


@dataclass(frozen=True)
class Asked:
    number: int
    params: dict[str, Any]
    user_attrs: dict[str, Any]


def is_interrupted(trial: FrozenTrial) -> bool:
    return trial.state == TrialState.FAIL and bool(trial.user_attrs.get("interrupted"))


def uses_budget(trial: FrozenTrial) -> bool:
    """A finished trial that counts toward budget.trials (an interrupted one is retried;
    a prior trial from a warm start ran in an earlier campaign)."""
    if trial.user_attrs.get("source") == "warm_start":
        return False
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and not is_interrupted(trial)


class StudyView:
    def __init__(self, storage: BaseStorage, study_name: str,
                 sampler: optuna.samplers.BaseSampler,
                 pruner: optuna.pruners.BasePruner | None = None):
        self.storage = storage
        self.study_id = storage.get_study_id_from_name(study_name)
        directions = storage.get_study_directions(self.study_id)
        memory = InMemoryStorage()
        memory_id = memory.create_new_study(directions, study_name)
        self._ids: dict[int, int] = {}  # trial number -> trial id in the real storage
        for trial in storage.get_all_trials(self.study_id, deepcopy=False):
            memory.create_new_trial(memory_id, template_trial=trial)
            self._ids[trial.number] = trial._trial_id
        self.memory = optuna.Study(study_name=study_name, storage=memory, sampler=sampler,
                                   pruner=pruner or optuna.pruners.NopPruner())
        self._memory = memory
        self._memory_id = memory_id
        self.direction = directions[0]

    # ---- reading (memory only) -------------------------------------------------------
    def trials(self, states: tuple[TrialState, ...] | None = None) -> list[FrozenTrial]:
        return self.memory.get_trials(deepcopy=False, states=states)

    def trial(self, number: int) -> FrozenTrial:
        return self._memory.get_trial(self._memory_trial_id(number))

    def counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for trial in self.trials():
            counts["interrupted" if is_interrupted(trial) else trial.state.name.lower()] += 1
        return counts

    def budget_used(self) -> int:
        return sum(1 for t in self.trials() if uses_budget(t))

    def waiting(self) -> int:
        return len(self.trials((TrialState.WAITING,)))

    def best(self) -> FrozenTrial | None:
        return best_of(self.trials((TrialState.COMPLETE,)), self.direction)

    # ---- writing (memory, then storage) ----------------------------------------------
    def ask(self, k: int, distributions: Mapping[str, BaseDistribution],
            user_attrs: Mapping[str, Any] | None = None,
            conditional: Callable[[optuna.Trial], Any] | None = None) -> list[Asked]:
        """`k` new RUNNING trials; `user_attrs` are added to each (e.g. its directory).

        A space with conditional parameters passes `conditional(trial)`, which suggests the
        active ones define-by-run; each trial then has its own distributions.

        WAITING trials go first. For the rest, TPE draws several proposals from one fit of
        its estimators (`_tpe_batch`); other samplers, or TPE when that does not apply, are
        asked one trial at a time, in memory.
        """
        asked: list[Asked] = []
        proposals: list[dict[str, Any]] = []
        waiting = self.waiting()
        while len(asked) < k and conditional is not None:
            trial = self.memory.ask()
            conditional(trial)
            asked.append(self._start(trial._trial_id, trial.distributions, user_attrs))
        while len(asked) < k:
            if not waiting and not proposals:
                proposals = tpe_proposals(self.memory, distributions, k - len(asked))
            if proposals:
                memory_id = self._insert_memory(proposals.pop(0), distributions)
            else:
                # Optuna's ask: pops the oldest WAITING trial first, else asks the sampler.
                memory_id = self.memory.ask(dict(distributions))._trial_id
                waiting = max(0, waiting - 1)
            asked.append(self._start(memory_id, distributions, user_attrs))
        return asked

    def _insert_memory(self, params: dict[str, Any],
                       distributions: Mapping[str, BaseDistribution]) -> int:
        # A proposal joins the in-memory study as a running trial: the next fit's liar.
        template = _running(params, distributions, {}, datetime.datetime.now())
        return self._memory.create_new_trial(self._memory_id, template_trial=template)

    def _start(self, memory_id: int, distributions: Mapping[str, BaseDistribution],
               user_attrs: Mapping[str, Any] | None) -> Asked:
        """Write a trial just started in memory through to the storage."""
        frozen = self._memory.get_trial(memory_id)
        attrs = dict(frozen.user_attrs)
        attrs.setdefault("source", "sampler")
        for key, value in (user_attrs or {}).items():
            attrs[key] = value(frozen.number) if callable(value) else value
        for key, value in attrs.items():
            if frozen.user_attrs.get(key) != value:
                self._memory.set_trial_user_attr(memory_id, key, value)
        if frozen.number in self._ids:
            self._start_waiting(frozen, distributions, attrs)
        else:
            self._create_running(frozen, distributions, attrs)
        return Asked(frozen.number, dict(frozen.params), attrs)

    def _start_waiting(self, frozen: FrozenTrial, distributions: Mapping[str, BaseDistribution],
                       attrs: dict[str, Any]) -> None:
        trial_id = self._ids[frozen.number]
        if not self.storage.set_trial_state_values(trial_id, TrialState.RUNNING):
            raise RuntimeError(f"trial {frozen.number} was not WAITING in the storage: "
                               "another process is driving this campaign")
        for name, dist in distributions.items():
            self.storage.set_trial_param(trial_id, name, dist.to_internal_repr(frozen.params[name]),
                                         dist)
        for key, value in attrs.items():
            self.storage.set_trial_user_attr(trial_id, key, value)

    def _create_running(self, frozen: FrozenTrial, distributions: Mapping[str, BaseDistribution],
                        attrs: dict[str, Any]) -> None:
        template = _running(frozen.params, distributions, attrs,
                            frozen.datetime_start or datetime.datetime.now())
        trial_id = self.storage.create_new_trial(self.study_id, template_trial=template)
        number = self.storage.get_trial_number_from_id(trial_id)
        if number != frozen.number:
            raise RuntimeError(f"the storage numbered a new trial {number}, expected "
                               f"{frozen.number}: another process is writing this study")
        self._ids[number] = trial_id

    def enqueue(self, params: dict[str, Any], user_attrs: dict[str, Any]) -> int:
        """A WAITING trial with fixed parameters (a retry), in memory and in the storage."""
        self.memory.enqueue_trial(params, user_attrs=user_attrs)
        frozen = self.trials()[-1]
        template = FrozenTrial(
            number=-1, trial_id=-1, state=TrialState.WAITING, value=None, datetime_start=None,
            datetime_complete=None, params={}, distributions={}, user_attrs=dict(user_attrs),
            system_attrs=dict(frozen.system_attrs), intermediate_values={},
        )
        trial_id = self.storage.create_new_trial(self.study_id, template_trial=template)
        self._ids[self.storage.get_trial_number_from_id(trial_id)] = trial_id
        return frozen.number

    def set_user_attrs(self, number: int, attrs: Mapping[str, Any]) -> None:
        memory_id, trial_id = self._memory_trial_id(number), self._ids[number]
        for key, value in attrs.items():
            self._memory.set_trial_user_attr(memory_id, key, value)
            self.storage.set_trial_user_attr(trial_id, key, value)

    def report(self, number: int, step: int, value: float) -> None:
        if not math.isfinite(value):
            return  # Optuna refuses non-finite intermediate values; the final result decides
        memory_id = self._memory_trial_id(number)
        if step in self._memory.get_trial(memory_id).intermediate_values:
            return
        self._memory.set_trial_intermediate_value(memory_id, step, value)
        self.storage.set_trial_intermediate_value(self._ids[number], step, value)

    def should_prune(self, number: int) -> bool:
        return self.memory.pruner.prune(self.memory, self.trial(number))

    def finish(self, number: int, state: TrialState,
               value: float | Sequence[float] | None = None,
               user_attrs: Mapping[str, Any] | None = None,
               constraints: Mapping[str, float] | None = None) -> FrozenTrial:
        """Record the end of a running trial: attributes first (finished trials are frozen).
        `constraints` are its constraint values by name (<= 0: feasible), as
        `Trial.set_constraint` records them, for the samplers."""
        self.set_user_attrs(number, user_attrs or {})
        for name, bound in (constraints or {}).items():
            self._memory.set_trial_system_attr(self._memory_trial_id(number),
                                               constraint_attr(name), bound)
            self.storage.set_trial_system_attr(self._ids[number], constraint_attr(name), bound)
        if state == TrialState.COMPLETE:
            self.memory.tell(number, value)
        else:
            self.memory.tell(number, state=state)
        frozen = self.trial(number)
        self.storage.set_trial_state_values(self._ids[number], frozen.state, frozen.values)
        return frozen

    def _memory_trial_id(self, number: int) -> int:
        return self._memory.get_trial_id_from_study_id_trial_number(self._memory_id, number)


def _running(params: Mapping[str, Any], distributions: Mapping[str, BaseDistribution],
             user_attrs: dict[str, Any], started: datetime.datetime) -> FrozenTrial:
    """The template of a new RUNNING trial with every parameter set (one insert)."""
    return FrozenTrial(
        number=-1, trial_id=-1, state=TrialState.RUNNING, value=None, datetime_start=started,
        datetime_complete=None, params=dict(params), distributions=dict(distributions),
        user_attrs=user_attrs, system_attrs={}, intermediate_values={},
    )
