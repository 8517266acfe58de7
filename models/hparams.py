"""Hyperparameter specifications: the type and range of every value a trial accepts.

Search spaces come from campaign files and samplers, so values arrive as JSON: an integer
may come as 16.0, a choice as a string. Each spec turns such a value into the Python value
the networks and optimisers take, or raises ``ValueError`` with one line naming the
hyperparameter and what it accepts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Int:
    low: int
    high: int
    odd: bool = False

    def coerce(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"hyperparameter {name} must be an integer, got {value!r}")
        number = int(value)
        if not self.low <= number <= self.high:
            raise ValueError(
                f"hyperparameter {name} must be in [{self.low}, {self.high}], got {number}")
        if self.odd and number % 2 == 0:
            raise ValueError(f"hyperparameter {name} must be odd, got {number}")
        return number

    def describe(self) -> str:
        return f"int in [{self.low}, {self.high}]" + (", odd" if self.odd else "")


@dataclass(frozen=True)
class Float:
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def coerce(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"hyperparameter {name} must be a number, got {value!r}")
        number = float(value)
        below = number <= self.low if self.low_open else number < self.low
        above = number >= self.high if self.high_open else number > self.high
        if not math.isfinite(number) or below or above:
            raise ValueError(f"hyperparameter {name} must be in {self.describe_range()}, "
                             f"got {value!r}")
        return number

    def describe_range(self) -> str:
        return (("(" if self.low_open else "[") + f"{self.low:g}, {self.high:g}"
                + (")" if self.high_open else "]"))

    def describe(self) -> str:
        return f"float in {self.describe_range()}"


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]

    def coerce(self, name: str, value: Any) -> str:
        if value not in self.options:
            raise ValueError(f"hyperparameter {name} must be one of {', '.join(self.options)}, "
                             f"got {value!r}")
        return str(value)

    def describe(self) -> str:
        return "one of " + ", ".join(self.options)


Spec = Int | Float | Choice

ARCHITECTURE_SPECS: dict[str, Spec] = {
    "depth": Int(1, 8),            # resolution levels; each halves the image
    "filters": Int(1, 256),        # features at the finest level; level i has filters*(i+1)
    "reps": Int(1, 8),             # residual blocks per level
    "kernel_size": Int(1, 7, odd=True),
    "norm": Choice(("batch", "none")),
    "activation": Choice(("relu", "leaky_relu", "gelu", "silu")),
    "dropout": Float(0.0, 1.0, high_open=True),
}

TRAINING_SPECS: dict[str, Spec] = {
    "optimizer": Choice(("adam", "adamw", "sgd")),
    "lr": Float(0.0, 10.0, low_open=True),           # per rank; scaled by the world size
    "weight_decay": Float(0.0, 1.0),
    "batch_size": Int(1, 4096),                      # events per rank and step
    "momentum": Float(0.0, 1.0, high_open=True),     # sgd only
    "beta1": Float(0.0, 1.0, high_open=True),        # adam / adamw only
    "beta2": Float(0.0, 1.0, high_open=True),
    "warmup_steps": Int(0, 1_000_000),               # linear warm-up of the learning rate
    "schedule": Choice(("constant", "cosine")),      # after warm-up
    # loss weight of each class: none, or (labelled / class count) ** 0.5 ("sqrt") or ** 1
    # ("inverse"), counted over the step's batch on every rank: rare classes (neutrino
    # pixels) count more
    "class_weights": Choice(("none", "sqrt", "inverse")),
}

SPECS: dict[str, Spec] = {**ARCHITECTURE_SPECS, **TRAINING_SPECS}


def resolve(defaults: Mapping[str, Any], params: Mapping[str, Any], model: str) -> dict[str, Any]:
    """Defaults overlaid with ``params``, every value checked; unknown names are an error."""
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"unknown hyperparameter {unknown[0]!r} for model {model}; "
                         f"known: {', '.join(sorted(defaults))}")
    merged = {**defaults, **params}
    return {name: SPECS[name].coerce(name, value) for name, value in merged.items()}
