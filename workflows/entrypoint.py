"""Run a Python function as a trial: `python -m workflows.entrypoint --target pkg.mod:func ...`.

The function takes the hyperparameters as a dict, `func(params)`, or also a reporting
callback, `func(params, report)`, where `report(step, value)` records an intermediate value
(a number, or a dict of metrics) and returns True once the driver asks the trial to stop
(pruning); the function should then return early. It returns a number (the objective) or a
dict of metrics that holds the campaign's metric. An exception, a missing metric or a value
that is not a finite number ends the trial as failed, with the reason in the result file and
a non-zero exit code.

The site's thread settings apply as in a training trial: the process is pinned and the
OpenMP variables written before the user's module is imported; when that module loaded torch,
its pools are sized and its main thread widened right after (import torch at module level:
a function that loads torch only when called keeps libgomp's pinning of its main thread).
Torch is not loaded for an objective that does not use it. The result records what was in
effect under "threads".
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import traceback
from collections.abc import Callable
from typing import Any

from workflows import threads
from workflows.trial_io import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_PRUNED,
    TrialIO,
    add_protocol_arguments,
    finite_number,
    load_params,
)


def load_target(target: str) -> Callable[..., Any]:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--target {target!r} is not 'package.module:function'")
    module = importlib.import_module(module_name)
    function: Any = module
    for part in attribute.split("."):
        function = getattr(function, part)
    if not callable(function):
        raise ValueError(f"{target} is not callable")
    return function


def _accepts_report(function: Callable[..., Any]) -> bool:
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)


def _as_metrics(value: Any, metric: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return {metric: value}


def objective_of(value: Any, metric: str) -> tuple[float | None, dict[str, Any], str | None]:
    """(objective, metrics, reason when it is not usable) from what the function returned."""
    metrics = _as_metrics(value, metric)
    if metric not in metrics:
        return None, metrics, (f"the function returned no '{metric}' "
                               f"(keys: {', '.join(map(str, metrics)) or 'none'})")
    raw = metrics[metric]
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None, metrics, f"'{metric}' is not a number: {raw!r}"
    if finite_number(number) is None:
        return None, metrics, f"'{metric}' is not a finite number: {number!r}"
    return number, metrics, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflows.entrypoint", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_protocol_arguments(parser)
    parser.add_argument("--target", required=True, help="package.module:function")
    parser.add_argument("--metric", default="objective", help="the metric that is the objective")
    args = parser.parse_args(argv)
    io = TrialIO.from_args(args)
    threads.apply_environment()  # before the user's module can load torch or OpenMP
    try:
        params = load_params(args.params)
        function = load_target(args.target)
    except (ValueError, ImportError, AttributeError) as err:
        print(f"entrypoint: {err}", file=sys.stderr)
        io.finish(STATUS_FAILED, reason=f"{type(err).__name__}: {err}",
                  threads=threads.in_effect())
        return 2
    if "torch" in sys.modules:
        threads.apply_torch(sys.modules["torch"])

    def report(step: int, value: Any) -> bool:
        return io.report(int(step), _as_metrics(value, args.metric))

    try:
        value = function(params, report) if _accepts_report(function) else function(params)
    except Exception as err:  # the objective's own error: recorded, not hidden
        traceback.print_exc()
        io.finish(STATUS_FAILED, reason=f"{type(err).__name__}: {err}",
                  threads=threads.in_effect())
        return 1
    objective, metrics, reason = objective_of(value, args.metric)
    in_effect = threads.in_effect()
    if io.should_stop():
        io.finish(STATUS_PRUNED, objective=objective, metrics=metrics,
                  reason="stopped by the driver", threads=in_effect)
        return 0
    if reason is not None:
        print(f"entrypoint: {reason}", file=sys.stderr)
        io.finish(STATUS_FAILED, metrics=metrics, reason=reason, threads=in_effect)
        return 1
    io.finish(STATUS_OK, objective=objective, metrics=metrics, threads=in_effect)
    return 0


if __name__ == "__main__":
    sys.exit(main())
