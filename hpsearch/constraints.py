"""Constraints on what a trial reports: `constraints = ["peak_memory_mb <= 8000"]`.

Each constraint is `NAME <= NUMBER` or `NAME >= NUMBER`, NAME a metric of the result file
(`metrics`) or one of its recorded keys (`peak_memory_mb`, `wall_time_s`, `images_per_s`).
The driver turns them into Optuna's constraint values (<= 0 feasible) on every finished
trial, recorded as `Trial.set_constraint` does (TPE and GP read them and learn to avoid the
infeasible region) and as user attributes "constraints" and "feasible", by which `best`,
`status` and the dashboard mark infeasible trials. A value the result lacks counts as
infeasible.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optuna.trial import FrozenTrial

from hpsearch.errors import UserError

_FORM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")
MISSING = 1.0  # the constraint value of a metric the result does not hold: infeasible


@dataclass(frozen=True)
class Constraint:
    name: str
    op: str  # "<=" or ">="
    bound: float

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.bound:g}"

    def value(self, reported: Mapping[str, Any]) -> float:
        """Optuna's constraint value: <= 0 when met, the amount of violation otherwise."""
        raw = reported.get(self.name)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            return MISSING
        return float(raw) - self.bound if self.op == "<=" else self.bound - float(raw)


def parse_constraints(value: Any) -> tuple[Constraint, ...]:
    if not isinstance(value, list):
        raise UserError('constraints: must be a list such as ["peak_memory_mb <= 8000"], '
                        f"got {value!r}")
    out = []
    for i, text in enumerate(value):
        match = _FORM.match(text) if isinstance(text, str) else None
        try:
            bound = float(match.group(3)) if match else math.nan
        except ValueError:
            bound = math.nan
        if match is None or not math.isfinite(bound):
            raise UserError(f"constraints[{i}]: {text!r} is not \"METRIC <= NUMBER\" or "
                            "\"METRIC >= NUMBER\"")
        out.append(Constraint(match.group(1), match.group(2), bound))
    return tuple(out)


def reported(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """What a finished trial reported: its metrics, then the recorded keys of the result."""
    metrics = attrs.get("metrics")
    return {**{k: v for k, v in attrs.items() if k != "metrics"},
            **(metrics if isinstance(metrics, dict) else {})}


def evaluate(constraints: Sequence[Constraint], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The user attributes that record the constraints of a finished trial."""
    values = [c.value(reported(attrs)) for c in constraints]
    return {"constraints": values, "feasible": all(v <= 0 for v in values)}


def by_name(constraints: Sequence[Constraint], attrs: Mapping[str, Any]) -> dict[str, float]:
    """The constraint values keyed by the constraint's text, for the samplers."""
    return {str(c): c.value(reported(attrs)) for c in constraints}


def is_infeasible(trial: FrozenTrial) -> bool:
    return trial.user_attrs.get("feasible") is False
