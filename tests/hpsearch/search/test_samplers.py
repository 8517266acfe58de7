from __future__ import annotations

import optuna
import pytest

from hpsearch.errors import UserError
from hpsearch.lhs import latin_hypercube
from hpsearch.samplers import SAMPLER_KINDS, ask_batch, make_sampler
from hpsearch.space import SearchSpace

SPACE = SearchSpace.from_mapping(
    {
        "x": {"type": "float", "low": -5.0, "high": 10.0},
        "y": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
        "n": {"type": "int", "low": 1, "high": 8},
        "c": ["a", "b"],
    }
)


def objective(params):
    return (params["x"] - 1) ** 2 + abs(params["y"] - 1) + params["n"] + (params["c"] == "b")


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("tpe", optuna.samplers.TPESampler),
        ("gp", optuna.samplers.GPSampler),
        ("random", optuna.samplers.RandomSampler),
    ],
)
def test_make_sampler_kinds(kind, cls):
    assert kind in SAMPLER_KINDS
    assert isinstance(make_sampler(kind, seed=1, n_startup_trials=5), cls)


def test_unknown_sampler_is_a_user_error():
    with pytest.raises(UserError, match=r"^sampler: unknown sampler 'cma'.*tpe, gp, random"):
        make_sampler("cma", seed=1, n_startup_trials=5)


def _record_model_proposals(sampler):
    """Trial numbers for which the model (not the random fallback) proposed the point."""
    numbers: list[int] = []
    sample_relative = sampler.sample_relative

    def recording(study, trial, search_space):
        params = sample_relative(study, trial, search_space)
        if params:
            numbers.append(trial.number)
        return params

    sampler.sample_relative = recording
    return numbers


@pytest.mark.parametrize("kind", ["tpe", "gp"])
def test_model_takes_over_after_the_lhs(tmp_path, kind):
    n_init, n_total = 6, 9
    sampler = make_sampler(kind, seed=0, n_startup_trials=n_init)
    model_numbers = _record_model_proposals(sampler)
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'c.db'}", sampler=sampler)
    design = latin_hypercube(SPACE, n_init, seed=0)
    for i, point in enumerate(design):
        study.enqueue_trial(point, user_attrs={"source": "lhs", "lhs_index": i})
    dists = SPACE.distributions()
    for _ in range(n_total):
        (trial,) = ask_batch(study, 1, dists)
        study.tell(trial.number, objective(trial.params))
    trials = study.get_trials()
    assert [t.params for t in trials[:n_init]] == design
    assert [t.user_attrs["lhs_index"] for t in trials[:n_init]] == list(range(n_init))
    assert all(t.params not in design for t in trials[n_init:])
    assert model_numbers == list(range(n_init, n_total))


def test_points_asked_while_the_design_runs_come_from_the_fallback(tmp_path):
    sampler = make_sampler("tpe", seed=0, n_startup_trials=4)
    model_numbers = _record_model_proposals(sampler)
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'c.db'}", sampler=sampler)
    for point in latin_hypercube(SPACE, 4, seed=0):
        study.enqueue_trial(point)
    dists = SPACE.distributions()
    first = ask_batch(study, 6, dists)  # 4 design points + 2 more with nothing finished
    assert [t.number for t in first] == list(range(6))
    for trial in first:
        study.tell(trial.number, objective(trial.params))
    ask_batch(study, 2, dists)
    assert model_numbers == [6, 7]


def _run(study, dists, batches, ask):
    """Ask in batches, then tell every trial of the batch; return all proposed params."""
    seen = []
    for k in batches:
        trials = ask(study, k, dists)
        seen += [t.params for t in trials]
        for trial in trials:
            study.tell(trial.number, objective(trial.params))
    return seen


def _naive_ask(study, k, dists):
    return [study.ask(dists) for _ in range(k)]


@pytest.mark.parametrize("kind", ["tpe", "random", "gp"])
def test_ask_batch_proposes_what_sequential_asks_would(tmp_path, kind):
    dists = SPACE.distributions()
    batches = [3, 4, 1, 3] if kind == "gp" else [3, 4, 1, 5, 2, 4]
    runs = []
    for ask, storage in [
        (ask_batch, f"sqlite:///{tmp_path / 'batched.db'}"),
        (_naive_ask, None),
    ]:
        study = optuna.create_study(storage=storage, sampler=make_sampler(kind, 7, 5))
        for point in latin_hypercube(SPACE, 5, seed=7):
            study.enqueue_trial(point)
        runs.append(_run(study, dists, batches, ask))
    assert runs[0] == runs[1]


def test_ask_batch_returns_running_trials_with_all_params(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    study = optuna.create_study(storage=url, sampler=make_sampler("tpe", 0, 3))
    design = latin_hypercube(SPACE, 3, seed=0)
    for i, point in enumerate(design):
        study.enqueue_trial(point, user_attrs={"source": "lhs", "lhs_index": i})
    study.enqueue_trial({"x": 0.5})  # a partly fixed point, e.g. from the user
    dists = SPACE.distributions()
    assert ask_batch(study, 0, dists) == []
    trials = ask_batch(study, 7, dists)
    assert [t.number for t in trials] == list(range(7))
    stored = optuna.load_study(study_name=study.study_name, storage=url).get_trials()
    assert [t.state for t in stored] == [optuna.trial.TrialState.RUNNING] * 7
    for trial, frozen in zip(trials, stored, strict=True):
        assert trial.params == frozen.params
        assert frozen.distributions == dists
    assert [t.params for t in stored[:3]] == design
    assert [t.user_attrs.get("lhs_index") for t in stored] == [0, 1, 2] + [None] * 4
    assert stored[3].params["x"] == 0.5
    # The constant liar spreads the batch: no two proposals alike.
    assert len({tuple(sorted(t.params.items())) for t in stored}) == 7


def test_ask_batch_mixes_with_plain_ask(tmp_path):
    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path / 'c.db'}", sampler=make_sampler("tpe", 0, 2)
    )
    dists = SPACE.distributions()
    for _ in range(3):
        trial = study.ask(dists)
        study.tell(trial, objective(trial.params))
    trials = ask_batch(study, 3, dists)
    trial = study.ask(dists)
    assert [t.number for t in trials] + [trial.number] == [3, 4, 5, 6]


def test_ask_batch_after_reopening_the_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    dists = SPACE.distributions()
    study = optuna.create_study(storage=url, study_name="s", sampler=make_sampler("tpe", 0, 2))
    _run(study, dists, [2, 2], ask_batch)
    ask_batch(study, 2, dists)  # left RUNNING, as after a crash
    resumed = optuna.load_study(study_name="s", storage=url, sampler=make_sampler("tpe", 0, 2))
    trials = ask_batch(resumed, 3, dists)
    assert [t.number for t in trials] == [6, 7, 8]
