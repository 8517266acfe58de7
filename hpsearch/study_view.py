"""The driver's in-memory view of the study, written through to the real storage.

The driver is the only writer of the study, so after one read at start-up it never needs to
read the database again: every change goes to an in-memory Optuna study (where the sampler
and the pruner run, at memory speed) and, with the same trial number, to the storage.
Trial numbers agree because both sides see the same creations in the same order.

Asking is batched: `ask(k)` hands out WAITING trials first (the LHS design, then retries,
with their fixed parameters, exactly as `study.ask` would) and lets the sampler propose the
rest from the in-memory trials; each proposal sees the earlier ones of the batch as running,
so the constant liar still spreads a batch.

Writes are batched too: changes go to memory at once and to the storage at `flush()`, one
transaction for every trial changed since the last (`trial_sync`); the driver flushes once
per turn of its loop. Counts, budget and best are kept up to date as trials change, so
reading them never walks the trials.
"""

from __future__ import annotations

import datetime
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import BaseStorage, InMemoryStorage
from optuna.trial import FrozenTrial, TrialState

from hpsearch._gp_active_set import GPBatch, endgame_trials, gp_proposal
from hpsearch._optuna_internals import constraint_attr
from hpsearch._tpe_batch import TPEBatch
from hpsearch.best import best_of
from hpsearch.trial_sync import read_trials, sync_trials


@dataclass(frozen=True)
class Asked:
    number: int
    params: dict[str, Any]
    user_attrs: dict[str, Any]


def is_interrupted(trial: FrozenTrial) -> bool:
    return trial.state == TrialState.FAIL and bool(trial.user_attrs.get("interrupted"))


def category(trial: FrozenTrial) -> str:
    """What `counts()` counts the trial as: its state in lower case, or "interrupted"."""
    return "interrupted" if is_interrupted(trial) else trial.state.name.lower()


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
                 pruner: optuna.pruners.BasePruner | None = None,
                 budget_trials: int | None = None):
        self.storage = storage
        self.study_id = storage.get_study_id_from_name(study_name)
        directions = storage.get_study_directions(self.study_id)
        memory = InMemoryStorage()
        memory_id = memory.create_new_study(directions, study_name)
        self.direction = directions[0]
        self._ids: dict[int, int] = {}  # trial number -> trial id in the real storage
        self._counts: Counter[str] = Counter()
        self._category: dict[int, str] = {}
        self._used = 0
        self._best: FrozenTrial | None = None
        self._dirty: set[int] = set()  # numbers changed in memory since the last flush
        self._stored_waiting: set[int] = set()  # WAITING in the storage at the last flush
        for trial in read_trials(storage, self.study_id):
            memory.create_new_trial(memory_id, template_trial=trial)
            self._ids[trial.number] = trial._trial_id
            self._note(trial)
            if trial.state == TrialState.WAITING:
                self._stored_waiting.add(trial.number)
        self.memory = optuna.Study(study_name=study_name, storage=memory, sampler=sampler,
                                   pruner=pruner or optuna.pruners.NopPruner())
        self._memory = memory
        self._memory_id = memory_id
        self._tpe = TPEBatch()
        self._gp = GPBatch()
        self._endgame_from = None if budget_trials is None else \
            budget_trials - endgame_trials(budget_trials)  # budget used + running, then local
        # CPU seconds spent asking (sampler) and writing (storage), for the scale benchmark.
        self.cpu: dict[str, float] = {"sampler": 0.0, "storage": 0.0}

    def _note(self, trial: FrozenTrial) -> None:
        """Count the trial as it now stands (after a change of state)."""
        old = self._category.get(trial.number)
        new = category(trial)
        if old == new:
            return
        if old is not None:
            self._counts[old] -= 1
        self._counts[new] += 1
        self._category[trial.number] = new
        self._used += uses_budget(trial)
        if trial.state == TrialState.COMPLETE:
            self._best = best_of([trial] + ([self._best] if self._best else []), self.direction)

    # ---- reading (memory only) -------------------------------------------------------
    def trials(self, states: tuple[TrialState, ...] | None = None) -> list[FrozenTrial]:
        return self.memory.get_trials(deepcopy=False, states=states)

    def trial(self, number: int) -> FrozenTrial:
        return self._memory.get_trial(self._memory_trial_id(number))

    def counts(self) -> Counter[str]:
        return +self._counts  # a copy without the zero counts

    def budget_used(self) -> int:
        return self._used

    def waiting(self) -> int:
        return self._counts["waiting"]

    def best(self) -> FrozenTrial | None:
        return self._best

    # ---- writing (memory, then storage) ----------------------------------------------
    def ask(self, k: int, distributions: Mapping[str, BaseDistribution],
            user_attrs: Mapping[str, Any] | None = None,
            conditional: Callable[[optuna.Trial], Any] | None = None) -> list[Asked]:
        """`k` new RUNNING trials; `user_attrs` are added to each (e.g. its directory).

        A space with conditional parameters passes `conditional(trial)`, which suggests the
        active ones define-by-run; each trial then has its own distributions.

        WAITING trials go first. For the rest, TPE draws several proposals from one fit of
        its estimators (`_tpe_batch`), GP several from one kernel fit when many trials run
        (`_gp_active_set`); other samplers, or these when that does not apply, are asked one
        trial at a time, in memory.
        """
        clock = time.process_time()
        asked: list[Asked] = []
        proposals: list[dict[str, Any]] = []
        waiting = self.waiting()
        while len(asked) < k and conditional is not None:
            trial = self.memory.ask()
            conditional(trial)
            asked.append(self._start(trial._trial_id, user_attrs))
        while len(asked) < k:
            if not waiting and not proposals:
                finished = self._counts["complete"] + self._counts["pruned"]
                proposals = self._tpe.proposals(self.memory, distributions, k - len(asked),
                                                finished) or \
                    self._gp.proposals(self.memory, distributions, k - len(asked),
                                       self._counts["complete"], self._counts["running"],
                                       local=self._in_endgame())
                gp = None if proposals else gp_proposal(self.memory, distributions)
                proposals = [gp] if gp is not None else proposals
            if proposals:
                memory_id = self._insert_memory(proposals.pop(0), distributions)
            else:
                # Optuna's ask: pops the oldest WAITING trial first, else asks the sampler.
                memory_id = self.memory.ask(dict(distributions))._trial_id
                waiting = max(0, waiting - 1)
            asked.append(self._start(memory_id, user_attrs))
        self.cpu["sampler"] += time.process_time() - clock
        return asked

    def _in_endgame(self) -> bool:
        started = self._used + self._counts["running"]
        return self._endgame_from is not None and started >= self._endgame_from

    def _insert_memory(self, params: dict[str, Any],
                       distributions: Mapping[str, BaseDistribution]) -> int:
        # A proposal joins the in-memory study as a running trial: the next fit's liar.
        template = _running(params, distributions, {}, datetime.datetime.now())
        return self._memory.create_new_trial(self._memory_id, template_trial=template)

    def _start(self, memory_id: int, user_attrs: Mapping[str, Any] | None) -> Asked:
        """A trial just started in memory, with its attributes; written at the next flush."""
        frozen = self._memory.get_trial(memory_id)
        attrs = dict(frozen.user_attrs)
        attrs.setdefault("source", "sampler")
        for key, value in (user_attrs or {}).items():
            attrs[key] = value(frozen.number) if callable(value) else value
        for key, value in attrs.items():
            if frozen.user_attrs.get(key) != value:
                self._memory.set_trial_user_attr(memory_id, key, value)
        self._changed(frozen.number)
        return Asked(frozen.number, dict(frozen.params), attrs)

    def enqueue(self, params: dict[str, Any], user_attrs: dict[str, Any]) -> int:
        """A WAITING trial with fixed parameters (a retry), in memory and in the storage."""
        self.memory.enqueue_trial(params, user_attrs=user_attrs)
        number = len(self._category)
        self._changed(number)
        self.flush()
        self._stored_waiting.add(number)
        return number

    def _changed(self, number: int) -> None:
        self._dirty.add(number)
        self._note(self.trial(number))

    def pending(self) -> int:
        """Trials changed in memory and not yet written."""
        return len(self._dirty)

    def flush(self) -> None:
        """Write every trial changed since the last flush to the storage, in one transaction."""
        if not self._dirty:
            return
        clock = time.process_time()
        numbers = sorted(self._dirty)
        trials = [self.trial(number) for number in numbers]
        sync_trials(self.storage, self.study_id, self._ids, trials,
                    self._stored_waiting.intersection(numbers))
        self._stored_waiting.difference_update(
            t.number for t in trials if t.state != TrialState.WAITING)
        self._dirty.clear()
        self.cpu["storage"] += time.process_time() - clock

    def set_user_attrs(self, number: int, attrs: Mapping[str, Any]) -> None:
        memory_id = self._memory_trial_id(number)
        for key, value in attrs.items():
            self._memory.set_trial_user_attr(memory_id, key, value)
        self._dirty.add(number)

    def report(self, number: int, step: int, value: float) -> None:
        if not math.isfinite(value):
            return  # Optuna refuses non-finite intermediate values; the final result decides
        memory_id = self._memory_trial_id(number)
        if step in self._memory.get_trial(memory_id).intermediate_values:
            return
        self._memory.set_trial_intermediate_value(memory_id, step, value)
        self._dirty.add(number)

    def should_prune(self, number: int) -> bool:
        return self.memory.pruner.prune(self.memory, self.trial(number))

    def finish(self, number: int, state: TrialState,
               value: float | Sequence[float] | None = None,
               user_attrs: Mapping[str, Any] | None = None,
               constraints: Mapping[str, float] | None = None) -> FrozenTrial:
        """Record the end of a running trial: attributes first (finished trials are frozen).
        `constraints` are its constraint values by name (<= 0: feasible), as
        `Trial.set_constraint` records them, for the samplers; the next flush writes them
        with the trial's other rows."""
        self.set_user_attrs(number, user_attrs or {})
        for name, bound in (constraints or {}).items():
            self._memory.set_trial_system_attr(self._memory_trial_id(number),
                                               constraint_attr(name), bound)
        if state == TrialState.COMPLETE:
            self.memory.tell(number, value)
        else:
            self.memory.tell(number, state=state)
        self._changed(number)
        return self.trial(number)

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
