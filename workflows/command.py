"""Run a user command as a trial: `python -m workflows.command [protocol args] -- cmd ...`.

Placeholders in the command are replaced: `{params}` (JSON file of hyperparameters), `{out}`
(where the command writes its result JSON), `{progress}`, `{stop_file}`, `{trial_dir}`. The
command writes either a full result (`{"status": "ok", "objective": 0.3, "metrics": {...}}`)
or a plain object of metrics that holds the campaign's metric (`{"loss": 0.3}`); this wrapper
turns the latter into the former. A non-zero exit or a missing or unusable result ends the
trial as failed, with the reason recorded.

The site's thread settings reach the command through its environment and CPU mask: this
wrapper pins itself to the trial's (or its rank's) cores and writes OMP_NUM_THREADS,
OMP_PLACES, ... before starting it, without loading torch, and records them under "threads".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from workflows import threads
from workflows.trial_io import (
    STATUS_FAILED,
    STATUS_OK,
    STATUSES,
    TrialIO,
    add_protocol_arguments,
    finite_number,
)


def substitute(command: list[str], values: dict[str, str]) -> list[str]:
    out = []
    for part in command:
        for name, value in values.items():
            part = part.replace("{" + name + "}", value)
        out.append(part)
    return out


def normalise(written: Any, metric: str) -> tuple[str, float | None, dict[str, Any], str | None]:
    """(status, objective, metrics, reason) from what the command wrote."""
    if not isinstance(written, dict):
        return STATUS_FAILED, None, {}, "the result file does not hold a JSON object"
    if written.get("status") in STATUSES:
        metrics = written.get("metrics") or {}
        objective = written.get("objective", metrics.get(metric))
        status = written["status"]
        reason = written.get("reason")
    else:
        metrics = {k: v for k, v in written.items() if k != "objective"}
        objective = written.get("objective", written.get(metric))
        status, reason = STATUS_OK, None
    if status == STATUS_OK:
        try:
            objective = float(objective)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return STATUS_FAILED, None, metrics, f"the result has no numeric '{metric}'"
        if finite_number(objective) is None:
            return STATUS_FAILED, None, metrics, f"'{metric}' is not a finite number: {objective}"
    return status, objective, metrics, reason


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflows.command", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_protocol_arguments(parser)
    parser.add_argument("--trial-dir", type=Path, required=True)
    parser.add_argument("--metric", default="objective")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    io = TrialIO.from_args(args)
    threads.apply_environment()  # the child inherits the mask and the variables
    in_effect = threads.in_effect()
    if not command:
        io.finish(STATUS_FAILED, reason="no command given", threads=in_effect)
        return 2
    values = {"params": str(args.params), "out": str(args.out),
              "progress": str(args.progress or ""), "stop_file": str(args.stop_file or ""),
              "trial_dir": str(args.trial_dir)}
    try:
        returncode = subprocess.call(substitute(command, values))
    except OSError as err:
        io.finish(STATUS_FAILED, reason=f"cannot run {command[0]}: {err.strerror}",
                  threads=in_effect)
        return 2
    try:
        written = json.loads(Path(args.out).read_text())
    except (OSError, ValueError):
        written = None
    if returncode != 0:
        reason = f"the command exited with code {returncode}"
        if isinstance(written, dict) and written.get("reason"):
            reason += f": {written['reason']}"
        io.finish(STATUS_FAILED, reason=reason, threads=in_effect)
        return returncode if returncode > 0 else 1
    if written is None:
        io.finish(STATUS_FAILED, reason=f"the command wrote no valid JSON result to {args.out}",
                  threads=in_effect)
        return 1
    status, objective, metrics, why = normalise(written, args.metric)
    io.finish(status, objective=objective, metrics=metrics, reason=why, threads=in_effect)
    return 0 if status != STATUS_FAILED else 1


if __name__ == "__main__":
    sys.exit(main())
