from __future__ import annotations

import math
import warnings
from collections import Counter

import optuna
import pytest

from hpsearch.lhs import latin_hypercube
from hpsearch.space import SearchSpace

MIXED = {
    "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
    "x": {"type": "float", "low": -2.0, "high": 3.0},
    "depth": {"type": "int", "low": 2, "high": 5},
    "width": {"type": "int", "low": 8, "high": 64, "step": 8},
    "channels": {"type": "int", "low": 1, "high": 1000, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.1},
    "opt": ["adam", "sgd", "rmsprop"],
}


def _column(space_table, n, seed=0):
    space = SearchSpace.from_mapping(space_table)
    (name,) = space.names
    return [point[name] for point in latin_hypercube(space, n, seed)]


def _strata(values, low, high, n):
    return sorted(math.floor((v - low) / (high - low) * n) for v in values)


@pytest.mark.parametrize("n", [1, 7, 20])
def test_float_one_point_per_stratum(n):
    values = _column({"x": {"type": "float", "low": -2.0, "high": 3.0}}, n)
    assert _strata(values, -2.0, 3.0, n) == list(range(n))


@pytest.mark.parametrize("n", [5, 16])
def test_log_float_one_point_per_log_stratum(n):
    values = _column({"lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True}}, n)
    logs = [math.log(v) for v in values]
    assert _strata(logs, math.log(1e-5), math.log(1e-1), n) == list(range(n))


def test_joint_design_stratifies_every_column():
    n = 12
    points = latin_hypercube(SearchSpace.from_mapping(MIXED), n, seed=3)
    assert _strata([p["x"] for p in points], -2.0, 3.0, n) == list(range(n))
    logs = [math.log(p["lr"]) for p in points]
    assert _strata(logs, math.log(1e-5), math.log(1e-1), n) == list(range(n))
    # 3 choices, n = 12: each choice exactly 4 times.
    assert Counter(p["opt"] for p in points) == {"adam": 4, "sgd": 4, "rmsprop": 4}
    # 4 int values, n = 12: each exactly 3 times.
    assert Counter(p["depth"] for p in points) == {2: 3, 3: 3, 4: 3, 5: 3}
    # 6 grid values of the stepped float, n = 12: each exactly twice.
    assert Counter(round(p["dropout"], 9) for p in points) == {
        0.0: 2,
        0.1: 2,
        0.2: 2,
        0.3: 2,
        0.4: 2,
        0.5: 2,
    }


def test_int_every_value_once_when_n_equals_number_of_values():
    assert sorted(_column({"d": {"type": "int", "low": 2, "high": 5}}, 4)) == [2, 3, 4, 5]
    width = {"w": {"type": "int", "low": 8, "high": 64, "step": 8}}
    assert sorted(_column(width, 8)) == list(range(8, 65, 8))


def test_int_each_value_equally_often_when_n_is_a_multiple():
    width = {"w": {"type": "int", "low": 8, "high": 64, "step": 8}}
    assert Counter(_column(width, 24, seed=5)) == {v: 3 for v in range(8, 65, 8)}


def test_int_one_point_per_block_when_values_are_a_multiple_of_n():
    # 12 values, n = 4: one point in each block of 3 consecutive values.
    values = _column({"d": {"type": "int", "low": 0, "high": 11}}, 4, seed=7)
    assert sorted(v // 3 for v in values) == [0, 1, 2, 3]


@pytest.mark.parametrize("n", [3, 6, 9])
def test_categorical_balanced(n):
    values = _column({"opt": ["a", "b", "c"]}, n)
    assert Counter(values) == {"a": n // 3, "b": n // 3, "c": n // 3}


def test_log_int_in_range_and_reaches_both_ends():
    values = _column({"c": {"type": "int", "low": 1, "high": 1000, "log": True}}, 200)
    assert all(isinstance(v, int) and 1 <= v <= 1000 for v in values)
    assert min(values) <= 2 and max(values) >= 900


def test_seeded_determinism():
    space = SearchSpace.from_mapping(MIXED)
    assert latin_hypercube(space, 10, 42) == latin_hypercube(space, 10, 42)
    assert latin_hypercube(space, 10, 42) != latin_hypercube(space, 10, 43)


def test_plain_python_values():
    space = SearchSpace.from_mapping(MIXED)
    for point in latin_hypercube(space, 9, 1):
        assert list(point) == list(space.names)
        for param in space.params:
            kind = {"FloatParam": float, "IntParam": int}.get(type(param).__name__, str)
            assert type(point[param.name]) is kind


def test_empty_and_negative_n():
    space = SearchSpace.from_mapping(MIXED)
    assert latin_hypercube(space, 0, 0) == []
    with pytest.raises(ValueError):
        latin_hypercube(space, -1, 0)


def test_points_are_accepted_by_optuna_unchanged(tmp_path):
    space = SearchSpace.from_mapping(MIXED)
    dists = space.distributions()
    points = latin_hypercube(space, 12, seed=11)
    for point in points:
        for name, value in point.items():
            assert dists[name]._contains(dists[name].to_internal_repr(value)), (name, value)
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'lhs.db'}")
    for point in points:
        study.enqueue_trial(point)
    # Optuna warns when a fixed parameter lies outside its distribution: make that fail.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        asked = [study.ask(dists).params for _ in points]
    assert asked == points
