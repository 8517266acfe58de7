"""The driver's in-memory view: same trials, numbers and states as the SQLite study."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.samplers import make_sampler
from hpsearch.storage import create_sqlite_file, open_sqlite
from hpsearch.study_view import StudyView
from hpsearch.trial_sync import StudyChangedElsewhere

DISTRIBUTIONS = {"x": optuna.distributions.FloatDistribution(-5.0, 10.0),
                 "y": optuna.distributions.FloatDistribution(0.0, 15.0)}


def _study(tmp_path: Path, n_init: int) -> optuna.storages.RDBStorage:
    db = tmp_path / "campaign.db"
    create_sqlite_file(db)
    storage = open_sqlite(db)
    study = optuna.create_study(storage=storage, study_name="v")
    for i in range(n_init):
        study.enqueue_trial({"x": float(i), "y": float(i)},
                            user_attrs={"source": "lhs", "lhs_index": i})
    return storage


def _fields(trial: optuna.trial.FrozenTrial) -> tuple:
    return (trial.number, trial.state, trial.values, trial.params, trial.distributions,
            trial.user_attrs, trial.system_attrs, trial.intermediate_values,
            trial.datetime_start, trial.datetime_complete)


def _same(view: StudyView, storage: optuna.storages.RDBStorage) -> None:
    """The study read back through Optuna's API is the in-memory one, which Optuna's API
    wrote trial by trial, field for field."""
    stored = optuna.load_study(study_name="v", storage=storage).get_trials()
    assert [_fields(t) for t in stored] == [_fields(t) for t in view.trials()]


def test_design_first_then_batched_sampler(tmp_path: Path) -> None:
    storage = _study(tmp_path, n_init=3)
    view = StudyView(storage, "v", make_sampler("tpe", 0, 3))
    first = view.ask(2, DISTRIBUTIONS, {"trial_dir": lambda n: f"trials/{n}"})
    assert [a.user_attrs["lhs_index"] for a in first] == [0, 1]
    assert first[1].params == {"x": 1.0, "y": 1.0}
    view.report(first[0].number, 1, 5.0)
    for a in first:
        view.finish(a.number, TrialState.COMPLETE, a.params["x"] ** 2, {"metrics": {"m": 1}})
    rest = view.ask(12, DISTRIBUTIONS)  # one LHS point left, then the sampler, in one batch
    assert rest[0].user_attrs["source"] == "lhs"
    assert {a.user_attrs["source"] for a in rest[1:]} == {"sampler"}
    assert len({tuple(a.params.values()) for a in rest}) == 12
    for i, a in enumerate(rest):
        if i % 3 == 0:
            view.finish(a.number, TrialState.FAIL, None, {"fail_reason": "boom"})
        elif i % 3 == 1:
            view.finish(a.number, TrialState.PRUNED)
        else:
            view.finish(a.number, TrialState.COMPLETE, float(i))
    retry = view.enqueue({"x": 0.5, "y": 0.5}, {"source": "retry", "retry_of": 2})
    (again,) = view.ask(1, DISTRIBUTIONS)
    assert again.number == retry and again.params == {"x": 0.5, "y": 0.5}
    more = view.ask(4, DISTRIBUTIONS)  # TPE past its start-up: proposals from shared fits
    assert [a.user_attrs["source"] for a in more] == ["sampler"] * 4
    view.flush()
    _same(view, storage)
    # A driver started later (resume) sees exactly the same study.
    _same(StudyView(storage, "v", make_sampler("tpe", 0, 3)), storage)
    assert view.budget_used() == 14
    assert view.best().value == 0.0


def test_batched_writes_read_back_as_written_one_by_one(tmp_path: Path) -> None:
    """Trials created, reported, finished and enqueued between flushes (some created and
    finished within one flush) are stored exactly as the in-memory study holds them."""
    storage = _study(tmp_path, n_init=4)
    view = StudyView(storage, "v", make_sampler("tpe", 0, 4))
    first = view.ask(3, DISTRIBUTIONS, {"trial_dir": lambda n: f"trials/{n}"})
    view.flush()
    view.report(first[0].number, 1, 2.5)
    view.report(first[0].number, 2, float("inf"))  # refused, as Optuna refuses it
    view.finish(first[0].number, TrialState.COMPLETE, float("inf"), {"metrics": {"a": [1, 2]}})
    view.finish(first[1].number, TrialState.PRUNED, None, {"hostname": "n1"})
    rest = view.ask(6, DISTRIBUTIONS)  # the last design point, then TPE's random start-up
    view.finish(rest[0].number, TrialState.FAIL, None, {"fail_reason": "boom"})
    view.finish(rest[1].number, TrialState.FAIL, None,
                {"interrupted": True, "fail_reason": "interrupted: SIGTERM"})
    view.flush()
    retry = view.enqueue(rest[1].params, {"source": "retry", "retry_of": rest[1].number})
    _same(view, storage)
    (again,) = view.ask(1, DISTRIBUTIONS)
    assert again.number == retry
    for trial in rest[2:]:
        view.finish(trial.number, TrialState.COMPLETE, -1.0 * trial.number)
    view.flush()
    _same(view, storage)
    assert view.counts() == {"complete": 5, "pruned": 1, "fail": 1, "interrupted": 1,
                             "running": 2}
    assert view.budget_used() == 7
    assert view.best().number == rest[-1].number
    reopened = StudyView(storage, "v", make_sampler("tpe", 0, 4))
    assert (reopened.counts(), reopened.budget_used(), reopened.best().number) == (
        view.counts(), view.budget_used(), view.best().number)


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    storage = _study(tmp_path, n_init=2)
    view = StudyView(storage, "v", make_sampler("tpe", 0, 2))
    other = StudyView(storage, "v", make_sampler("tpe", 0, 2))
    other.ask(1, DISTRIBUTIONS)
    other.flush()
    view.ask(1, DISTRIBUTIONS)  # the same design point, which the other driver took
    with pytest.raises(StudyChangedElsewhere, match="another process is driving"):
        view.flush()


def _conditional(trial: optuna.Trial) -> None:
    # "x" only when kind is "a": trials of kind "b" have one parameter fewer.
    if trial.suggest_categorical("kind", ["a", "b"]) == "a":
        trial.suggest_float("x", -5.0, 10.0)


def test_several_objectives_constraints_priors_and_conditional_trials(tmp_path: Path) -> None:
    """Bulk writes of a two-objective study, with a warm start's prior, constraint values
    and conditional parameters, read back through Optuna as the in-memory study holds them;
    the status rows count the prior apart and rank the infeasible trial last."""
    from hpsearch.study_summary import ranked_rows, trial_rows

    db = tmp_path / "campaign.db"
    create_sqlite_file(db)
    storage = open_sqlite(db)
    study = optuna.create_study(storage=storage, study_name="v",
                                directions=["minimize", "maximize"])
    study.add_trial(optuna.trial.create_trial(
        params={"kind": "b"},
        distributions={"kind": optuna.distributions.CategoricalDistribution(["a", "b"])},
        values=[0.5, 0.5], user_attrs={"source": "warm_start"},
        system_attrs={"constraints:c": -1.0}))
    view = StudyView(storage, "v", make_sampler("tpe", 0, 2, group=True))
    asked = view.ask(6, {}, {"trial_dir": lambda n: f"trials/{n}"}, conditional=_conditional)
    assert {len(a.params) for a in asked} == {1, 2}  # some trials lack "x"
    for i, a in enumerate(asked):
        feasible = i != 0
        view.finish(a.number, TrialState.COMPLETE, [float(i), float(2 * i)],
                    {"feasible": feasible}, {"c": -1.0 if feasible else 3.0})
    view.flush()
    _same(view, storage)
    stored = optuna.load_study(study_name="v", storage=storage)
    assert stored.trials[1].constraints == {"c": 3.0}
    assert [len(t.values) for t in stored.trials] == [2] * 7
    assert any("x" not in t.params for t in stored.trials[1:])
    reopened = StudyView(storage, "v", make_sampler("tpe", 0, 2, group=True))
    assert [_fields(t) for t in reopened.trials()] == [_fields(t) for t in view.trials()]
    assert reopened.budget_used() == view.budget_used() == 6  # the prior is not counted
    rows = trial_rows(stored)
    assert [r.category for r in rows] == ["prior"] + ["complete"] * 6
    assert [r.number for r in ranked_rows(rows, stored.directions[0])][-1] == 1
