"""The trial side of the trial protocol: progress lines, the stop file, the result file.

A trial is a fresh process started with ``--params P --out R [--progress F] [--stop-file S]``.
It appends one JSON line per epoch to F (the driver reads them to decide pruning; workers
never touch the study database), stops at the next epoch boundary once S exists, and writes R
once, atomically, so a reader never sees half a result.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

STATUS_OK = "ok"
STATUS_PRUNED = "pruned"
STATUS_FAILED = "failed"


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", required=True, type=Path, help="JSON file of hyperparameters")
    parser.add_argument("--out", required=True, type=Path, help="where to write the result JSON")
    parser.add_argument("--progress", type=Path, help="append one JSON line per epoch here")
    parser.add_argument("--stop-file", type=Path, help="stop at the next epoch once this exists")


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def peak_memory_mb() -> float:
    import resource

    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class TrialIO:
    """Progress reporting, pruning requests and the result file of one trial process."""

    def __init__(self, out: Path, progress: Path | None = None, stop_file: Path | None = None,
                 rank: int = 0):
        self.out = out
        self.progress = progress
        self.stop_file = stop_file
        self.rank = rank  # only rank 0 writes
        self.started = time.time()

    @classmethod
    def from_args(cls, args: argparse.Namespace, rank: int = 0) -> TrialIO:
        return cls(args.out, args.progress, args.stop_file, rank=rank)

    def report(self, step: int, metrics: dict[str, float]) -> bool:
        """Record the metrics of one epoch; True when the driver asked the trial to stop."""
        if self.rank == 0 and self.progress is not None:
            line = {"step": step, "time": time.time() - self.started, "metrics": metrics}
            with open(self.progress, "a") as handle:
                handle.write(json.dumps(line, default=_jsonable) + "\n")
                handle.flush()
        return self.should_stop()

    def should_stop(self) -> bool:
        return self.stop_file is not None and self.stop_file.exists()

    def finish(self, status: str, objective: float | None = None,
               metrics: dict[str, Any] | None = None, reason: str | None = None,
               **extra: Any) -> dict[str, Any]:
        """Write the result file (rank 0 only) and return what was written."""
        if status == STATUS_OK and (objective is None or not math.isfinite(objective)):
            status, reason = STATUS_FAILED, f"objective is not a finite number: {objective!r}"
        result: dict[str, Any] = {
            "status": status,
            "objective": objective,
            "metrics": metrics or {},
            "reason": reason,
            "wall_time_s": time.time() - self.started,
            "peak_memory_mb": peak_memory_mb(),
            "hostname": socket.gethostname(),
        }
        result.update(extra)
        if self.rank == 0:
            write_json_atomic(self.out, result)
        return result


def load_params(path: Path) -> dict[str, Any]:
    """Read the hyperparameter file; a bad file is a one-line ValueError."""
    try:
        params = json.loads(Path(path).read_text())
    except OSError as err:
        raise ValueError(f"cannot read params file {path}: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise ValueError(
            f"params file {path} is not valid JSON: {err.msg} (line {err.lineno})"
        ) from err
    if not isinstance(params, dict):
        raise ValueError(f"params file {path} must hold a JSON object of name: value")
    return params
