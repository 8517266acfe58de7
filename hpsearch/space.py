"""The search space of a campaign: parsed and validated from the `[search_space]` table.

Syntax (one entry per hyperparameter)::

    [search_space]
    lr    = { type = "float", low = 1e-5, high = 1e-1, log = true }
    depth = { type = "int", low = 2, high = 5 }
    width = { type = "int", low = 8, high = 64, step = 8 }
    opt   = { type = "categorical", choices = ["adam", "sgd"] }
    act   = ["relu", "gelu"]            # a bare list is a categorical parameter
    momentum = { type = "float", low = 0.5, high = 0.99, when = { opt = "sgd" } }

`when` makes a parameter conditional: it is sampled (and given to the trial) only when the
named earlier categorical parameter takes one of the listed choices.

Every mistake raises `UserError` with one line naming `search_space.<name>.<field>`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hpsearch.errors import UserError

Choice = str | int | float | bool | None
# `when = { optimizer = "sgd" }`: (parameter, the choices that make this one active) pairs.
Condition = tuple[tuple[str, tuple[Choice, ...]], ...]

PARAM_TYPES = ("float", "int", "categorical")
_NUMERIC_KEYS = frozenset({"type", "low", "high", "log", "step", "when"})
_CATEGORICAL_KEYS = frozenset({"type", "choices", "when"})
# A float step must divide the range up to rounding of decimal literals such as 0.1.
_STEP_TOLERANCE = 1e-8


@dataclass(frozen=True)
class FloatParam:
    name: str
    low: float
    high: float
    log: bool = False
    step: float | None = None
    when: Condition = ()

    def distribution(self) -> FloatDistribution:
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return _with_when(out, self.when)


@dataclass(frozen=True)
class IntParam:
    name: str
    low: int
    high: int
    log: bool = False
    step: int = 1
    when: Condition = ()

    def distribution(self) -> IntDistribution:
        return IntDistribution(self.low, self.high, log=self.log, step=self.step)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step != 1:
            out["step"] = self.step
        return _with_when(out, self.when)


@dataclass(frozen=True)
class CategoricalParam:
    name: str
    choices: tuple[Choice, ...]
    when: Condition = ()

    def distribution(self) -> CategoricalDistribution:
        return CategoricalDistribution(self.choices)

    def to_dict(self) -> dict[str, Any]:
        return _with_when({"type": "categorical", "choices": list(self.choices)}, self.when)


Param = FloatParam | IntParam | CategoricalParam


@dataclass(frozen=True)
class SearchSpace:
    """An ordered, validated set of hyperparameters (order = the campaign file's order)."""

    params: tuple[Param, ...]

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> SearchSpace:
        if not isinstance(table, Mapping):
            raise UserError(
                "search_space: must be a table of parameters, e.g. "
                '[search_space] lr = { type = "float", low = 1e-5, high = 1e-1, log = true }'
            )
        if not table:
            raise UserError(
                "search_space: no parameters; add at least one, e.g. "
                'depth = { type = "int", low = 2, high = 5 }'
            )
        params = tuple(_parse_param(name, entry) for name, entry in table.items())
        _check_conditions(params)
        return cls(params)

    @property
    def conditional(self) -> bool:
        return any(p.when for p in self.params)

    def is_active(self, param: Param, params: Mapping[str, Any]) -> bool:
        """Whether `param` applies given the values of the parameters it depends on."""
        return all(name in params and any(params[name] == c for c in choices)
                   for name, choices in param.when)

    def active(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """`params` without the parameters their conditions switch off."""
        return {p.name: params[p.name] for p in self.params
                if p.name in params and self.is_active(p, params)}

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Sample the active parameters on an Optuna trial, parents first (define-by-run:
        TPE with group=True models each combination of active parameters apart)."""
        values: dict[str, Any] = {}
        for param in self.params:
            if self.is_active(param, values):
                values[param.name] = _suggest(trial, param)
        return values

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def dimension(self) -> int:
        return len(self.params)

    def distributions(self) -> dict[str, BaseDistribution]:
        return {p.name: p.distribution() for p in self.params}

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The `[search_space]` table again: `from_mapping(space.to_dict()) == space`."""
        return {p.name: p.to_dict() for p in self.params}


def _parse_param(name: Any, entry: Any) -> Param:
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"search_space: parameter name {name!r} must be a non-empty string")
    where = f"search_space.{name}"
    if isinstance(entry, list | tuple):
        return _parse_categorical(name, {"type": "categorical", "choices": list(entry)})
    if not isinstance(entry, Mapping):
        raise UserError(
            f"{where}: must be a table such as "
            '{ type = "float", low = 0.0, high = 1.0 } or a list of choices, '
            f"got {entry!r}"
        )
    kind = entry.get("type")
    if kind is None and "choices" in entry:
        kind = "categorical"
    if kind is None:
        raise UserError(f'{where}.type: missing; set type = "float", "int" or "categorical"')
    if kind not in PARAM_TYPES:
        raise UserError(f'{where}.type: unknown type {kind!r}; use "float", "int" or "categorical"')
    if kind == "categorical":
        return _parse_categorical(name, entry)
    return _parse_numeric(name, kind, entry)


def _suggest(trial: Any, param: Param) -> Any:
    if isinstance(param, CategoricalParam):
        return trial.suggest_categorical(param.name, param.choices)
    if isinstance(param, IntParam):
        return trial.suggest_int(param.name, param.low, param.high, step=param.step,
                                 log=param.log)
    return trial.suggest_float(param.name, param.low, param.high, step=param.step, log=param.log)


def _check_conditions(params: tuple[Param, ...]) -> None:
    """A condition names an earlier categorical parameter and some of its choices."""
    seen: dict[str, Param] = {}
    for param in params:
        for parent, choices in param.when:
            where = f"search_space.{param.name}.when.{parent}"
            other = seen.get(parent)
            if other is None:
                raise UserError(f"{where}: no categorical parameter {parent!r} before "
                                f"{param.name!r}; list the parameter it depends on first")
            if not isinstance(other, CategoricalParam):
                raise UserError(f"{where}: {parent!r} is not categorical; a condition names "
                                "choices of a categorical parameter")
            for choice in choices:
                if not any(choice == c for c in other.choices):
                    raise UserError(f"{where}: {choice!r} is not one of {parent}'s choices "
                                    f"({', '.join(map(str, other.choices))})")
        seen[param.name] = param


def _parse_when(where: str, value: Any) -> Condition:
    if not isinstance(value, Mapping) or not value:
        raise UserError(f'{where}.when: must be a table such as when = {{ optimizer = "sgd" }}, '
                        f"got {value!r}")
    out = []
    for parent, choices in value.items():
        listed = list(choices) if isinstance(choices, list | tuple) else [choices]
        if not listed:
            raise UserError(f"{where}.when.{parent}: give at least one choice")
        out.append((str(parent), tuple(listed)))
    return tuple(out)


def _with_when(out: dict[str, Any], when: Condition) -> dict[str, Any]:
    if when:
        out["when"] = {name: list(choices) if len(choices) > 1 else choices[0]
                       for name, choices in when}
    return out


def _check_keys(where: str, entry: Mapping[str, Any], allowed: frozenset[str], kind: str) -> None:
    for key in entry:
        if key not in allowed:
            raise UserError(
                f"{where}.{key}: unknown key for a {kind} parameter; "
                f"allowed keys are {', '.join(sorted(allowed))}"
            )


def _parse_categorical(name: str, entry: Mapping[str, Any]) -> CategoricalParam:
    where = f"search_space.{name}"
    _check_keys(where, entry, _CATEGORICAL_KEYS, "categorical")
    if "choices" not in entry:
        raise UserError(f'{where}.choices: missing; give a list, e.g. choices = ["a", "b"]')
    choices = entry["choices"]
    if not isinstance(choices, list | tuple):
        raise UserError(f"{where}.choices: must be a list, got {choices!r}")
    if not choices:
        raise UserError(f"{where}.choices: empty; give at least one choice")
    seen: list[Choice] = []
    for choice in choices:
        if choice is not None and not isinstance(choice, str | int | float | bool):
            raise UserError(
                f"{where}.choices: {choice!r} is not a string, number or boolean; use plain values"
            )
        if isinstance(choice, float) and not math.isfinite(choice):
            raise UserError(f"{where}.choices: {choice!r} is not a finite number")
        # Optuna finds a choice by ==, so 1, 1.0 and true would be the same choice.
        if any(choice == s for s in seen):
            raise UserError(f"{where}.choices: {choice!r} appears twice; list each choice once")
        seen.append(choice)
    when = _parse_when(where, entry["when"]) if "when" in entry else ()
    return CategoricalParam(name, tuple(choices), when=when)


def _number(where: str, value: Any, integer: bool) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        want = "an integer" if integer else "a number"
        raise UserError(f"{where}: must be {want}, got {value!r}")
    if integer and not isinstance(value, int):
        raise UserError(f"{where}: must be an integer for an int parameter, got {value!r}")
    if not math.isfinite(value):
        raise UserError(f"{where}: must be finite, got {value!r}")
    return value


def _parse_numeric(name: str, kind: str, entry: Mapping[str, Any]) -> FloatParam | IntParam:
    where = f"search_space.{name}"
    integer = kind == "int"
    _check_keys(where, entry, _NUMERIC_KEYS, kind)
    for key in ("low", "high"):
        if key not in entry:
            raise UserError(f"{where}.{key}: missing; a {kind} parameter needs low and high")
    low = _number(f"{where}.low", entry["low"], integer)
    high = _number(f"{where}.high", entry["high"], integer)
    if low >= high:
        raise UserError(
            f"{where}.high: the range [{low}, {high}] is empty or inverted; "
            "make high greater than low (fix a constant outside the search space)"
        )
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise UserError(f"{where}.log: must be true or false, got {log!r}")
    if log and low <= 0:
        raise UserError(
            f"{where}.low: a log range needs low > 0, got {low}; "
            "use a positive low or drop log = true"
        )
    step = entry.get("step")
    if step is not None and log:
        raise UserError(f"{where}.step: cannot be combined with log = true; drop one of them")
    if step is not None:
        step = _number(f"{where}.step", step, integer)
        if step <= 0:
            raise UserError(f"{where}.step: must be positive, got {step}")
        n_steps = (high - low) / step
        if abs(n_steps - round(n_steps)) > _STEP_TOLERANCE * max(1.0, abs(n_steps)):
            raise UserError(
                f"{where}.step: {step} does not divide the range [{low}, {high}]; "
                "choose high = low + a whole number of steps"
            )
    when = _parse_when(where, entry["when"]) if "when" in entry else ()
    if integer:
        return IntParam(name, int(low), int(high), log=log, step=int(step or 1), when=when)
    return FloatParam(
        name, float(low), float(high), log=log, step=None if step is None else float(step),
        when=when,
    )
