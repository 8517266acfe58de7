"""Copy trials of the driver's in-memory study to the RDB storage, many in one transaction.

Optuna's storage API writes one field per transaction (a new trial, each user attribute, the
state, each intermediate value), and numbers a new trial by reading it back: recording one
result took six transactions. The driver is the only writer, so it can instead write each
trial it changed as it now stands in memory, rows and all, for a whole turn of its loop at
once: new trials are inserted with their numbers, changed ones have their rows replaced.
The result, read back through Optuna, is the study the in-memory one is (a test checks it).

Other storages (not RDB) get the same trials through Optuna's API, one call at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, distribution_to_json, json_to_distribution
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import and_, bindparam, delete, func, insert, select, update

from hpsearch import _optuna_internals as internals


class StudyChangedElsewhere(RuntimeError):
    """Another process wrote the study the driver owns."""


def sync_trials(storage: BaseStorage, study_id: int, ids: dict[int, int],
                trials: Iterable[FrozenTrial], was_waiting: set[int]) -> None:
    """Write `trials` (numbers absent from `ids` are new, and get their ids there); a trial
    in `was_waiting` must still be WAITING in the storage, or nobody else owns it."""
    trials = list(trials)
    if not trials:
        return
    rdb = internals.rdb_backend(storage)
    if rdb is None:
        _sync_through_api(storage, study_id, ids, trials)
    else:
        _sync_rdb(rdb, study_id, ids, trials, was_waiting)


def _sync_rdb(storage: optuna.storages.RDBStorage, study_id: int, ids: dict[int, int],
              trials: list[FrozenTrial], was_waiting: set[int]) -> None:
    models = internals.rdb_models()
    t_trials = models.TrialModel.__table__
    new = [t for t in trials if t.number not in ids]
    old = [t for t in trials if t.number in ids]
    with storage.engine.begin() as connection:
        if new:
            count = connection.execute(select(func.count()).select_from(t_trials).where(
                t_trials.c.study_id == study_id)).scalar_one()
            if count != len(ids):
                raise StudyChangedElsewhere(
                    f"the study holds {count} trials, the driver knows {len(ids)}: another "
                    "process is writing this campaign")
            connection.execute(insert(t_trials), [
                {"number": t.number, "study_id": study_id, "state": t.state,
                 "datetime_start": t.datetime_start, "datetime_complete": t.datetime_complete}
                for t in new])
            numbers = [t.number for t in new]
            rows = connection.execute(select(t_trials.c.number, t_trials.c.trial_id).where(
                and_(t_trials.c.study_id == study_id, t_trials.c.number >= min(numbers))))
            ids.update({number: trial_id for number, trial_id in rows})
        for trial in old:
            if trial.number not in was_waiting:
                continue
            changed = connection.execute(
                update(t_trials).where(and_(t_trials.c.trial_id == ids[trial.number],
                                            t_trials.c.state == TrialState.WAITING))
                .values(state=trial.state))
            if changed.rowcount != 1:
                raise StudyChangedElsewhere(f"trial {trial.number} was not WAITING in the "
                                            "storage: another process is driving this campaign")
        if old:
            connection.execute(
                update(t_trials).where(t_trials.c.trial_id == bindparam("id"))
                .values(state=bindparam("state"), datetime_start=bindparam("start"),
                        datetime_complete=bindparam("complete")),
                [{"id": ids[t.number], "state": t.state, "start": t.datetime_start,
                  "complete": t.datetime_complete} for t in old])
        _replace_rows(connection, models, [ids[t.number] for t in old],
                      [(ids[t.number], t) for t in trials])


def _replace_rows(connection: Any, models: Any, old_ids: list[int],
                  trials: list[tuple[int, FrozenTrial]]) -> None:
    """Params, attributes, values and intermediate values of each trial, as in memory."""
    tables = {
        models.TrialParamModel: [
            {"trial_id": i, "param_name": name, "distribution_json": distribution_to_json(d),
             "param_value": d.to_internal_repr(t.params[name])}
            for i, t in trials for name, d in t.distributions.items()],
        models.TrialUserAttributeModel: [
            {"trial_id": i, "key": key, "value_json": json.dumps(value)}
            for i, t in trials for key, value in t.user_attrs.items()],
        models.TrialSystemAttributeModel: [
            {"trial_id": i, "key": key, "value_json": json.dumps(value)}
            for i, t in trials for key, value in t.system_attrs.items()],
        models.TrialValueModel: [
            dict(zip(("value", "value_type"),
                     models.TrialValueModel.value_to_stored_repr(value), strict=True),
                 trial_id=i, objective=objective)
            for i, t in trials for objective, value in enumerate(t.values or ())],
        models.TrialIntermediateValueModel: [
            dict(zip(("intermediate_value", "intermediate_value_type"),
                     models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(v),
                     strict=True), trial_id=i, step=step)
            for i, t in trials for step, v in t.intermediate_values.items()],
    }
    for model, rows in tables.items():
        table = model.__table__
        if old_ids:
            connection.execute(delete(table).where(table.c.trial_id.in_(old_ids)))
        if rows:
            connection.execute(insert(table), rows)


def _sync_through_api(storage: BaseStorage, study_id: int, ids: dict[int, int],
                      trials: list[FrozenTrial]) -> None:
    for trial in trials:
        if trial.number not in ids:
            trial_id = storage.create_new_trial(study_id, template_trial=trial)
            number = storage.get_trial_number_from_id(trial_id)
            if number != trial.number:
                raise StudyChangedElsewhere(
                    f"the storage numbered a new trial {number}, expected {trial.number}: "
                    "another process is writing this study")
            ids[number] = trial_id
            continue
        trial_id = ids[trial.number]
        stored = storage.get_trial(trial_id)
        if stored.state == TrialState.WAITING and trial.state != TrialState.WAITING:
            if not storage.set_trial_state_values(trial_id, TrialState.RUNNING):
                raise StudyChangedElsewhere(f"trial {trial.number} was not WAITING in the "
                                            "storage: another process is driving this campaign")
        for name, dist in trial.distributions.items():
            if name not in stored.params:
                storage.set_trial_param(trial_id, name, dist.to_internal_repr(trial.params[name]),
                                        dist)
        for key, value in trial.user_attrs.items():
            if stored.user_attrs.get(key, _ABSENT) != value:
                storage.set_trial_user_attr(trial_id, key, value)
        for key, value in trial.system_attrs.items():
            if stored.system_attrs.get(key, _ABSENT) != value:
                storage.set_trial_system_attr(trial_id, key, value)
        for step, value in trial.intermediate_values.items():
            if step not in stored.intermediate_values:
                storage.set_trial_intermediate_value(trial_id, step, value)
        if trial.state.is_finished() and not stored.state.is_finished():
            storage.set_trial_state_values(trial_id, trial.state, trial.values)


_ABSENT = object()


def read_trials(storage: BaseStorage, study_id: int) -> list[FrozenTrial]:
    """Every trial of the study, in number order: for RDB one query per table, without the
    ORM (the driver's one read at start-up, ~5x faster on a large study); else the API."""
    rdb = internals.rdb_backend(storage)
    if rdb is None:
        return storage.get_all_trials(study_id, deepcopy=False)
    models = internals.rdb_models()
    t_trials = models.TrialModel.__table__
    fields: dict[int, dict[str, Any]] = {}
    with rdb.engine.connect() as connection:
        for trial_id, number, state, start, complete in connection.execute(
                select(t_trials.c.trial_id, t_trials.c.number, t_trials.c.state,
                       t_trials.c.datetime_start, t_trials.c.datetime_complete)
                .where(t_trials.c.study_id == study_id).order_by(t_trials.c.number)):
            fields[trial_id] = {"number": number, "trial_id": trial_id, "state": state,
                                "datetime_start": start, "datetime_complete": complete,
                                "params": {}, "distributions": {}, "user_attrs": {},
                                "system_attrs": {}, "intermediate_values": {}, "values": {}}

        def rows(model: Any, *columns: str) -> Any:
            table = model.__table__
            return connection.execute(
                select(table.c.trial_id, *(table.c[c] for c in columns))
                .join(t_trials, t_trials.c.trial_id == table.c.trial_id)
                .where(t_trials.c.study_id == study_id))

        dists: dict[str, BaseDistribution] = {}
        for trial_id, name, value, text in rows(models.TrialParamModel, "param_name",
                                                "param_value", "distribution_json"):
            dist = dists.get(text) or dists.setdefault(text, json_to_distribution(text))
            fields[trial_id]["params"][name] = dist.to_external_repr(value)
            fields[trial_id]["distributions"][name] = dist
        for key, model in (("user_attrs", models.TrialUserAttributeModel),
                           ("system_attrs", models.TrialSystemAttributeModel)):
            for trial_id, name, text in rows(model, "key", "value_json"):
                fields[trial_id][key][name] = json.loads(text)
        for trial_id, objective, value, kind in rows(models.TrialValueModel, "objective",
                                                     "value", "value_type"):
            fields[trial_id]["values"][objective] = \
                models.TrialValueModel.stored_repr_to_value(value, kind)
        intermediate = models.TrialIntermediateValueModel
        for trial_id, step, value, kind in rows(intermediate, "step", "intermediate_value",
                                                "intermediate_value_type"):
            fields[trial_id]["intermediate_values"][step] = \
                intermediate.stored_repr_to_intermediate_value(value, kind)
    out = []
    for f in fields.values():
        values = f.pop("values")
        out.append(FrozenTrial(value=None, values=[values[k] for k in sorted(values)] or None,
                               **f))
    return out
