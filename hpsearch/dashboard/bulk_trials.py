"""The first full read of a study in six table scans instead of one ORM object per row.

Optuna's RDB storage loads trials as ORM objects (a trial with its params, values and
attributes is some twenty of them): for 10,000 trials that is most of half a minute on a
login node. The same tables read with SQLAlchemy Core selects, and the FrozenTrials built
exactly as Optuna builds them, take a fraction of that. Later refreshes go through Optuna's
own incremental query; a test checks that both reads give equal trials.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import sqlalchemy
from optuna import distributions
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial

from hpsearch._optuna_internals import rdb_models


def read_all_trials(storage: RDBStorage, study_id: int) -> list[FrozenTrial]:
    models = rdb_models()
    trials_t = models.TrialModel.__table__
    ids = sqlalchemy.select(trials_t.c.trial_id).where(trials_t.c.study_id == study_id)

    def rows(model: Any, *columns: str, order: str | None = None) -> list[Any]:
        table = model.__table__
        query = sqlalchemy.select(*(table.c[c] for c in columns)).where(
            table.c.trial_id.in_(ids))
        if order is not None:
            query = query.order_by(table.c[order])
        return list(connection.execute(query))

    with storage.engine.connect() as connection:
        head = list(connection.execute(
            sqlalchemy.select(trials_t.c.trial_id, trials_t.c.number, trials_t.c.state,
                              trials_t.c.datetime_start, trials_t.c.datetime_complete)
            .where(trials_t.c.study_id == study_id).order_by(trials_t.c.trial_id)))
        params = rows(models.TrialParamModel, "trial_id", "param_name", "param_value",
                      "distribution_json", order="param_id")
        values = rows(models.TrialValueModel, "trial_id", "objective", "value", "value_type")
        user = rows(models.TrialUserAttributeModel, "trial_id", "key", "value_json")
        system = rows(models.TrialSystemAttributeModel, "trial_id", "key", "value_json")
        inter = rows(models.TrialIntermediateValueModel, "trial_id", "step",
                     "intermediate_value", "intermediate_value_type")

    dist_cache: dict[str, distributions.BaseDistribution] = {}
    by_params: dict[int, list[Any]] = defaultdict(list)
    for r in params:
        by_params[r.trial_id].append(r)
    by_values: dict[int, dict[int, float]] = defaultdict(dict)
    for r in values:
        by_values[r.trial_id][r.objective] = models.TrialValueModel.stored_repr_to_value(
            r.value, r.value_type)
    by_user: dict[int, dict[str, Any]] = defaultdict(dict)
    for r in user:
        by_user[r.trial_id][r.key] = json.loads(r.value_json)
    by_system: dict[int, dict[str, Any]] = defaultdict(dict)
    for r in system:
        by_system[r.trial_id][r.key] = json.loads(r.value_json)
    by_inter: dict[int, dict[int, float]] = defaultdict(dict)
    for r in inter:
        by_inter[r.trial_id][r.step] = (
            models.TrialIntermediateValueModel.stored_repr_to_intermediate_value(
                r.intermediate_value, r.intermediate_value_type))

    out = []
    for h in head:
        p_values: dict[str, Any] = {}
        p_dists: dict[str, distributions.BaseDistribution] = {}
        for r in by_params.get(h.trial_id, ()):
            dist = dist_cache.get(r.distribution_json)
            if dist is None:
                dist = dist_cache[r.distribution_json] = distributions.json_to_distribution(
                    r.distribution_json)
            p_values[r.param_name] = dist.to_external_repr(r.param_value)
            p_dists[r.param_name] = dist
        objective_values = by_values.get(h.trial_id)
        out.append(FrozenTrial(
            number=h.number,
            state=h.state,
            value=None,
            values=[objective_values[k] for k in sorted(objective_values)]
            if objective_values else None,
            datetime_start=h.datetime_start,
            datetime_complete=h.datetime_complete,
            params=p_values,
            distributions=p_dists,
            user_attrs=by_user.get(h.trial_id, {}),
            system_attrs=by_system.get(h.trial_id, {}),
            intermediate_values=by_inter.get(h.trial_id, {}),
            trial_id=h.trial_id,
        ))
    return out
