"""Read-only summaries of a large study without loading every trial.

`hpsearch status` and `best` need, for every trial, only its state, times, first value and
four user attributes (interrupted, source, feasible, retries); the full trials (parameters,
all attributes) only of the few they print. Optuna's `get_trials` builds every trial with
everything: ~15 s and 600 MB at 20,000 trials. Here one SQL query reads the columns needed
and a second loads the few full trials. Other storages than RDB fall back to `get_trials`.
The Pareto front of a campaign with several objectives compares every value of every trial:
status and best read those campaigns in full (`best.pareto_front`).
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import and_, select

from hpsearch import _optuna_internals as internals
from hpsearch.constraints import is_infeasible

# `warm_start.SOURCE`, not imported: status and best load nothing of the sampling code.
WARM_START = "warm_start"


@dataclass(frozen=True)
class TrialRow:
    """What the summaries need of one trial."""

    number: int
    trial_id: int
    state: TrialState
    datetime_start: datetime.datetime | None
    datetime_complete: datetime.datetime | None
    value: float | None
    interrupted: bool
    source: str
    infeasible: bool = False  # breaks the campaign's constraints (`constraints.is_infeasible`)
    retries: tuple[Any, ...] = ()  # the infrastructure retries recorded (`infra_retries`)

    @property
    def uses_budget(self) -> bool:
        """As `study_view.uses_budget`: finished, not interrupted (that one is retried), and
        not a warm start's prior trial."""
        if self.source == WARM_START:
            return False
        if self.state in (TrialState.COMPLETE, TrialState.PRUNED):
            return True
        return self.state == TrialState.FAIL and not self.interrupted

    @property
    def category(self) -> str:
        """As `hpsearch status` counts it: prior, interrupted, or its state."""
        if self.source == WARM_START:
            return "prior"
        return "interrupted" if self.state == TrialState.FAIL and self.interrupted \
            else self.state.name.lower()


def trial_rows(study: optuna.Study) -> list[TrialRow]:
    """Every trial of the study, as the summaries need it, in number order."""
    rdb = internals.rdb_backend(study._storage)
    if rdb is None:
        return [_row(t) for t in study.get_trials(deepcopy=False)]
    models = internals.rdb_models()
    trials = models.TrialModel.__table__
    values = models.TrialValueModel.__table__
    attrs = models.TrialUserAttributeModel.__table__
    keys = ("interrupted", "source", "feasible", "retries")
    joined = [attrs.alias(key) for key in keys]
    query = (
        select(trials.c.number, trials.c.trial_id, trials.c.state, trials.c.datetime_start,
               trials.c.datetime_complete, values.c.value, values.c.value_type,
               *(a.c.value_json for a in joined))
        .select_from(trials)
        .outerjoin(values, and_(values.c.trial_id == trials.c.trial_id, values.c.objective == 0)))
    for key, alias in zip(keys, joined, strict=True):
        query = query.outerjoin(alias, and_(alias.c.trial_id == trials.c.trial_id,
                                            alias.c.key == key))
    query = (
        query
        .where(trials.c.study_id == study._study_id)
        .order_by(trials.c.number))
    out = []
    with rdb.engine.connect() as connection:
        for row in connection.execute(query):
            value = (None if row[6] is None
                     else models.TrialValueModel.stored_repr_to_value(row[5], row[6]))
            retries = json.loads(row[10]) if row[10] else None
            out.append(TrialRow(row[0], row[1], row[2], row[3], row[4], value,
                                bool(row[7] and json.loads(row[7])),
                                json.loads(row[8]) if row[8] else "",
                                bool(row[9]) and json.loads(row[9]) is False,
                                tuple(retries) if isinstance(retries, list) else ()))
    return out


def full_trials(study: optuna.Study, rows: Iterable[TrialRow]) -> list[FrozenTrial]:
    """The complete trials behind `rows` (parameters, attributes), in the rows' order."""
    rows = list(rows)
    rdb = internals.rdb_backend(study._storage)
    if rdb is None:
        return [study._storage.get_trial(r.trial_id) for r in rows]
    if not rows:
        return []
    # No trial has an id above 2**62: only the trials of `rows` are read.
    loaded = internals.rdb_trials(rdb, study._study_id, {r.trial_id for r in rows},
                                  newer_than_id=2**62)
    by_id = {t._trial_id: t for t in loaded}
    return [by_id[r.trial_id] for r in rows]


def ranked_rows(rows: Iterable[TrialRow], direction: StudyDirection) -> list[TrialRow]:
    """As `best.ranked`: COMPLETE with a finite value, best first, ties to the earlier,
    trials that break the constraints after every feasible one."""
    sign = 1.0 if direction == StudyDirection.MINIMIZE else -1.0
    complete = [r for r in rows if r.state == TrialState.COMPLETE and r.value is not None
                and math.isfinite(r.value)]
    return sorted(complete,
                  key=lambda r: (r.infeasible, sign * r.value, r.number))  # type: ignore[operator]


def _row(trial: FrozenTrial) -> TrialRow:
    retries = trial.user_attrs.get("retries")
    return TrialRow(trial.number, trial._trial_id, trial.state, trial.datetime_start,
                    trial.datetime_complete, trial.values[0] if trial.values else None,
                    bool(trial.user_attrs.get("interrupted")), trial.user_attrs.get("source", ""),
                    is_infeasible(trial), tuple(retries) if isinstance(retries, list) else ())
