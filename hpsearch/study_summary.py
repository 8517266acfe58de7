"""Read-only summaries of a large study without loading every trial.

`hpsearch status` and `best` need, for every trial, only its state, times, value and two
user attributes (interrupted, source); the full trials (parameters, all attributes) only of
the few they print. Optuna's `get_trials` builds every trial with everything: ~15 s and
600 MB at 20,000 trials. Here one SQL query reads the columns needed and a second loads the
few full trials. Other storages than RDB fall back to `get_trials`.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import and_, select

from hpsearch import _optuna_internals as internals


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

    @property
    def uses_budget(self) -> bool:
        """As `study_view.uses_budget`: finished, and not interrupted (that one is retried)."""
        if self.state in (TrialState.COMPLETE, TrialState.PRUNED):
            return True
        return self.state == TrialState.FAIL and not self.interrupted

    @property
    def category(self) -> str:
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
    interrupted = attrs.alias("interrupted")
    source = attrs.alias("source")
    query = (
        select(trials.c.number, trials.c.trial_id, trials.c.state, trials.c.datetime_start,
               trials.c.datetime_complete, values.c.value, values.c.value_type,
               interrupted.c.value_json, source.c.value_json)
        .select_from(trials)
        .outerjoin(values, and_(values.c.trial_id == trials.c.trial_id, values.c.objective == 0))
        .outerjoin(interrupted, and_(interrupted.c.trial_id == trials.c.trial_id,
                                     interrupted.c.key == "interrupted"))
        .outerjoin(source, and_(source.c.trial_id == trials.c.trial_id,
                                source.c.key == "source"))
        .where(trials.c.study_id == study._study_id)
        .order_by(trials.c.number))
    out = []
    with rdb.engine.connect() as connection:
        for row in connection.execute(query):
            value = (None if row[6] is None
                     else models.TrialValueModel.stored_repr_to_value(row[5], row[6]))
            out.append(TrialRow(row[0], row[1], row[2], row[3], row[4], value,
                                bool(row[7] and json.loads(row[7])),
                                json.loads(row[8]) if row[8] else ""))
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
    """As `best.ranked`: COMPLETE with a finite value, best first, ties to the earlier."""
    sign = 1.0 if direction == StudyDirection.MINIMIZE else -1.0
    complete = [r for r in rows if r.state == TrialState.COMPLETE and r.value is not None
                and abs(r.value) != float("inf")]
    return sorted(complete, key=lambda r: (sign * r.value, r.number))  # type: ignore[operator]


def _row(trial: FrozenTrial) -> TrialRow:
    return TrialRow(trial.number, trial._trial_id, trial.state, trial.datetime_start,
                    trial.datetime_complete, trial.values[0] if trial.values else None,
                    bool(trial.user_attrs.get("interrupted")), trial.user_attrs.get("source", ""))
