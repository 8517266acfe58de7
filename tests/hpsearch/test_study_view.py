"""The driver's in-memory view: same trials, numbers and states as the SQLite study."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.trial import TrialState

from hpsearch.samplers import make_sampler
from hpsearch.storage import create_sqlite_file, open_sqlite
from hpsearch.study_view import StudyView

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


def _same(view: StudyView, storage: optuna.storages.RDBStorage) -> None:
    stored = optuna.load_study(study_name="v", storage=storage).get_trials()
    memory = view.trials()
    assert [t.number for t in stored] == [t.number for t in memory]
    for a, b in zip(stored, memory, strict=True):
        assert (a.state, a.params, a.values, a.user_attrs) == (b.state, b.params, b.values,
                                                               b.user_attrs)
        assert a.intermediate_values == b.intermediate_values


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
    _same(view, storage)
    # A driver started later (resume) sees exactly the same study.
    _same(StudyView(storage, "v", make_sampler("tpe", 0, 3)), storage)
    assert view.budget_used() == 14
    assert view.best().value == 0.0
