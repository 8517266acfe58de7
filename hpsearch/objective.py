"""What a trial runs: a built-in training task, a Python function, or a user command.

The `[objective]` table names exactly one of `model`, `entrypoint` or `command`, plus the
metric and its direction. Each kind becomes one trial command line that speaks the trial
protocol (`--params --out --progress --stop-file`), so the driver treats all three alike.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpsearch import builtin_trial
from hpsearch.errors import UserError
from workflows.trial_io import TrialPaths

KINDS = ("model", "entrypoint", "command")
DIRECTIONS = ("minimize", "maximize")
_COMMON_KEYS = {"metric", "direction"}
_KEYS = {
    "model": _COMMON_KEYS | {"model"} | set(builtin_trial.OPTIONS),
    "entrypoint": _COMMON_KEYS | {"entrypoint"},
    "command": _COMMON_KEYS | {"command"},
}
PLACEHOLDERS = ("{params}", "{out}", "{progress}", "{stop_file}", "{trial_dir}")


@dataclass(frozen=True)
class Objective:
    kind: str  # one of KINDS
    metric: str
    direction: str
    model: str | None = None
    entrypoint: str | None = None
    command: tuple[str, ...] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # built-in task options
    # Further objectives of a multi-objective campaign, (metric, direction) each; `metric`
    # and `direction` are the first one, which progress lines and pruning follow.
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric, *(m for m, _ in self.extra))

    @property
    def directions(self) -> tuple[str, ...]:
        return (self.direction, *(d for _, d in self.extra))

    @classmethod
    def from_mapping(cls, table: Any) -> Objective:
        if not isinstance(table, dict):
            raise UserError(
                'objective: must be a table, e.g. [objective] entrypoint = "pkg.mod:func"'
            )
        given = [kind for kind in KINDS if kind in table]
        if not given:
            raise UserError(
                "objective: missing; set one of objective.model (built-in task), "
                "objective.entrypoint (\"pkg.module:function\") or objective.command ([...])"
            )
        if len(given) > 1:
            raise UserError(
                f"objective.{given[1]}: objective.{given[0]} is also set; keep only one of "
                "model, entrypoint, command"
            )
        kind = given[0]
        for key in table:
            if key not in _KEYS[kind]:
                raise UserError(
                    f"objective.{key}: unknown key for a {kind} objective; allowed: "
                    f"{', '.join(sorted(_KEYS[kind]))}"
                )
        default_metric = (builtin_trial.model_metric(table["model"], table.get("labels", ""))
                          if kind == "model" else "objective")
        metric, direction, extra = _objectives(table.get("metric", default_metric),
                                               table.get("direction", "minimize"))
        if kind == "model":
            model = table["model"]
            options = builtin_trial.validate(model, {k: v for k, v in table.items()
                                                     if k in builtin_trial.OPTIONS})
            return cls(kind, metric, direction, model=model, options=options, extra=extra)
        if kind == "entrypoint":
            target = table["entrypoint"]
            module, _, function = target.partition(":") if isinstance(target, str) else ("", "", "")
            if not module or not function or not all(
                part.isidentifier() for part in module.split(".") + function.split(".")
            ):
                raise UserError(
                    f"objective.entrypoint: {target!r} is not \"package.module:function\"; "
                    "name an importable module and a function in it"
                )
            return cls(kind, metric, direction, entrypoint=target, extra=extra)
        command = table["command"]
        if (not isinstance(command, list) or not command
                or not all(isinstance(part, str) for part in command)):
            raise UserError(
                "objective.command: must be a non-empty list of strings, e.g. "
                '["python", "train.py", "--params", "{params}", "--out", "{out}"]'
            )
        if not any("{out}" in part for part in command):
            raise UserError(
                "objective.command: has no {out} placeholder; the command must write its "
                "result JSON to {out}"
            )
        return cls(kind, metric, direction, command=tuple(command), extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The `[objective]` table again, with defaults filled in."""
        out: dict[str, Any] = {"metric": self.metric, "direction": self.direction}
        if self.extra:
            out.update(metric=list(self.metrics), direction=list(self.directions))
        if self.kind == "model":
            out["model"] = self.model
            out.update(self.options)
        elif self.kind == "entrypoint":
            out["entrypoint"] = self.entrypoint
        else:
            out["command"] = list(self.command or ())
        return out

    def trial_command(self, paths: TrialPaths, seed: int, campaign_dir: Path,
                      python: str = sys.executable) -> list[str]:
        """The command line of one trial (run in a fresh process by the Parsl app)."""
        protocol = paths.protocol_arguments()
        if self.kind == "model":
            return builtin_trial.command(python, self.model or "", self.options, self.metric,
                                         seed, campaign_dir, protocol)
        if self.kind == "entrypoint":
            return [python, "-m", "workflows.entrypoint", *protocol,
                    "--target", self.entrypoint or "", "--metric", self.metric]
        return [python, "-m", "workflows.command", *protocol,
                "--trial-dir", str(paths.trial_dir), "--metric", self.metric,
                "--", *(self.command or ())]

    def prepare(self, campaign_dir: Path, seed: int, log: Any = print) -> None:
        """Work done once per campaign before the first trial (e.g. generating the data)."""
        if self.kind == "model":
            builtin_trial.prepare_data(self.model or "", self.options, seed, campaign_dir, log)


def describe(objective: Objective) -> str:
    """One line for logs and status."""
    what = {"model": objective.model, "entrypoint": objective.entrypoint,
            "command": " ".join(objective.command or ())}[objective.kind]
    goals = ", ".join(f"{d} {m}" for m, d in zip(objective.metrics, objective.directions,
                                                    strict=True))
    return f"{objective.kind} {what}: {goals}"


def _objectives(metric: Any, direction: Any) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """(first metric, its direction, the further ones) from `metric` and `direction`, each a
    string or, for several objectives, a list."""
    metrics = metric if isinstance(metric, list) else [metric]
    if not metrics or not all(isinstance(m, str) and m for m in metrics):
        raise UserError(f"objective.metric: must be a metric name or a list of them, "
                        f"got {metric!r}")
    if len(set(metrics)) != len(metrics):
        raise UserError(f"objective.metric: {metric!r} names a metric twice; list each once")
    directions = direction if isinstance(direction, list) else [direction] * len(metrics)
    if len(directions) != len(metrics):
        raise UserError(f"objective.direction: {len(directions)} directions for "
                        f"{len(metrics)} metrics; give one per metric, e.g. "
                        '["minimize", "minimize"]')
    for value in directions:
        if value not in DIRECTIONS:
            raise UserError(
                f"objective.direction: must be \"minimize\" or \"maximize\", got {value!r}")
    return metrics[0], directions[0], tuple(zip(metrics[1:], directions[1:], strict=True))

