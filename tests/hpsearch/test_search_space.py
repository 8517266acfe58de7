from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hpsearch.errors import UserError
from hpsearch.space import CategoricalParam, FloatParam, IntParam, SearchSpace

TABLE = {
    "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
    "depth": {"type": "int", "low": 2, "high": 5},
    "width": {"type": "int", "low": 8, "high": 64, "step": 8},
    "opt": {"type": "categorical", "choices": ["adam", "sgd"]},
    "act": ["relu", "gelu", "silu"],
    "dropout": {"type": "float", "low": 0, "high": 0.5, "step": 0.1},
}


def test_parses_every_kind_in_order():
    space = SearchSpace.from_mapping(TABLE)
    assert space.names == ("lr", "depth", "width", "opt", "act", "dropout")
    assert space.dimension == 6
    assert space.params[0] == FloatParam("lr", 1e-5, 1e-1, log=True)
    assert space.params[1] == IntParam("depth", 2, 5)
    assert space.params[2] == IntParam("width", 8, 64, step=8)
    assert space.params[3] == CategoricalParam("opt", ("adam", "sgd"))
    assert space.params[4] == CategoricalParam("act", ("relu", "gelu", "silu"))
    assert space.params[5] == FloatParam("dropout", 0.0, 0.5, step=0.1)
    assert isinstance(space.params[5].low, float)


def test_distributions():
    dists = SearchSpace.from_mapping(TABLE).distributions()
    assert dists["lr"] == FloatDistribution(1e-5, 1e-1, log=True)
    assert dists["depth"] == IntDistribution(2, 5)
    assert dists["width"] == IntDistribution(8, 64, step=8)
    assert dists["opt"] == CategoricalDistribution(("adam", "sgd"))
    assert dists["dropout"] == FloatDistribution(0.0, 0.5, step=0.1)


def test_to_dict_round_trip():
    space = SearchSpace.from_mapping(TABLE)
    again = SearchSpace.from_mapping(space.to_dict())
    assert again == space
    assert again.to_dict() == space.to_dict()


def test_params_are_frozen():
    param = SearchSpace.from_mapping(TABLE).params[0]
    with pytest.raises(AttributeError):
        param.low = 0.0  # type: ignore[misc]


def test_choices_without_type_is_categorical():
    space = SearchSpace.from_mapping({"opt": {"choices": [1, 2]}})
    assert space.params == (CategoricalParam("opt", (1, 2)),)


def _f(**kw):
    return {"type": "float", "low": 0.0, "high": 1.0, **kw}


def _i(**kw):
    return {"type": "int", "low": 0, "high": 10, **kw}


MALFORMED = [
    ({}, "search_space:"),
    ([1, 2], "search_space:"),
    ({"x": 3}, "search_space.x:"),
    ({"x": {"low": 0, "high": 1}}, "search_space.x.type"),
    ({"x": _f(type="double")}, "search_space.x.type"),
    ({"x": _f(lgo=True)}, "search_space.x.lgo"),
    ({"x": {"type": "categorical", "choices": ["a"], "low": 0}}, "search_space.x.low"),
    ({"x": {"type": "float", "high": 1.0}}, "search_space.x.low"),
    ({"x": {"type": "float", "low": 0.0}}, "search_space.x.high"),
    ({"x": _f(low="0")}, "search_space.x.low"),
    ({"x": _f(low=True)}, "search_space.x.low"),
    ({"x": _f(high=float("inf"))}, "search_space.x.high"),
    ({"x": _i(low=1.5)}, "search_space.x.low"),
    ({"x": _f(low=1.0, high=0.0)}, "search_space.x.high"),
    ({"x": _i(low=3, high=3)}, "search_space.x.high"),
    ({"x": _f(low=0.0, high=1.0, log=True)}, "search_space.x.low"),
    ({"x": _f(low=-1.0, high=1.0, log=True)}, "search_space.x.low"),
    ({"x": _f(log="yes")}, "search_space.x.log"),
    ({"x": _i(step=3)}, "search_space.x.step"),
    ({"x": _f(step=0.3)}, "search_space.x.step"),
    ({"x": _f(step=0.0)}, "search_space.x.step"),
    ({"x": _i(step=-2)}, "search_space.x.step"),
    ({"x": _i(step=2.0)}, "search_space.x.step"),
    ({"x": _f(low=0.1, log=True, step=0.1)}, "search_space.x.step"),
    ({"x": _i(low=1, log=True, step=1)}, "search_space.x.step"),
    ({"x": {"type": "categorical"}}, "search_space.x.choices"),
    ({"x": {"type": "categorical", "choices": []}}, "search_space.x.choices"),
    ({"x": []}, "search_space.x.choices"),
    ({"x": {"type": "categorical", "choices": "ab"}}, "search_space.x.choices"),
    ({"x": ["a", "b", "a"]}, "search_space.x.choices"),
    ({"x": [1, 1.0]}, "search_space.x.choices"),
    ({"x": [{"a": 1}]}, "search_space.x.choices"),
    ({"ok": _f(), "bad": _i(low=5, high=1)}, "search_space.bad.high"),
]


@pytest.mark.parametrize(("table", "field"), MALFORMED)
def test_malformed_space_names_the_field(table, field):
    with pytest.raises(UserError) as info:
        SearchSpace.from_mapping(table)
    message = str(info.value)
    assert message.startswith(field), message
    assert "\n" not in message
    # The message says what to do, not only what is wrong.
    assert len(message) > len(field) + 20


def test_float_step_tolerates_decimal_rounding():
    space = SearchSpace.from_mapping({"x": {"type": "float", "low": 0.1, "high": 0.7, "step": 0.2}})
    assert space.params[0].step == 0.2
