"""The search space of a campaign: parsed and validated from the `[search_space]` table.

Syntax (one entry per hyperparameter)::

    [search_space]
    lr    = { type = "float", low = 1e-5, high = 1e-1, log = true }
    depth = { type = "int", low = 2, high = 5 }
    width = { type = "int", low = 8, high = 64, step = 8 }
    opt   = { type = "categorical", choices = ["adam", "sgd"] }
    act   = ["relu", "gelu"]            # a bare list is a categorical parameter

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

PARAM_TYPES = ("float", "int", "categorical")
_NUMERIC_KEYS = frozenset({"type", "low", "high", "log", "step"})
_CATEGORICAL_KEYS = frozenset({"type", "choices"})
# A float step must divide the range up to rounding of decimal literals such as 0.1.
_STEP_TOLERANCE = 1e-8


@dataclass(frozen=True)
class FloatParam:
    name: str
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def distribution(self) -> FloatDistribution:
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class IntParam:
    name: str
    low: int
    high: int
    log: bool = False
    step: int = 1

    def distribution(self) -> IntDistribution:
        return IntDistribution(self.low, self.high, log=self.log, step=self.step)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step != 1:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class CategoricalParam:
    name: str
    choices: tuple[Choice, ...]

    def distribution(self) -> CategoricalDistribution:
        return CategoricalDistribution(self.choices)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}


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
        return cls(tuple(_parse_param(name, entry) for name, entry in table.items()))

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
    return CategoricalParam(name, tuple(choices))


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
    if integer:
        return IntParam(name, int(low), int(high), log=log, step=int(step or 1))
    return FloatParam(
        name, float(low), float(high), log=log, step=None if step is None else float(step)
    )
