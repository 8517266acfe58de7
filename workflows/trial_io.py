"""The trial protocol, both sides: files, statuses, executor labels, environment, result.

A trial is a fresh process started with ``--params P --out R [--progress F] [--stop-file S]``.
It appends one JSON line per epoch to F (the driver reads them to decide pruning; workers
never touch the study database), stops at the next epoch boundary once S exists, and writes R
once, atomically, so a reader never sees half a result. The driver, the Parsl app and
`hpsearch resume` read R with `read_result`, the one place that decides what a result says.
"""

from __future__ import annotations

import argparse
import json
import math
import numbers
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workflows.atomic_file import write_text_atomic

STATUS_OK = "ok"
STATUS_PRUNED = "pruned"
STATUS_FAILED = "failed"
STATUSES = (STATUS_OK, STATUS_PRUNED, STATUS_FAILED)

# The Parsl executors trials run on: single-process trials, and multi-rank ones.
EXECUTOR_LABEL = "trials"
MPI_EXECUTOR_LABEL = "mpi_trials"

# Thread settings the site passes to each trial; nothing but the trial reads them, so they
# survive Parsl's cpu_affinity rewriting OMP_NUM_THREADS in the worker.
INTRA_OP_VAR = "HPSEARCH_INTRA_OP_THREADS"
INTER_OP_VAR = "HPSEARCH_INTER_OP_THREADS"
# The site's accelerators with the CPUs nearest each, "0-7,32-39=3;8-15,40-47=2;...", and
# their kind (cuda, rocm, xpu): a trial or rank keeps the one nearest its own cores
# (workflows.threads), e.g. Polaris' documented gpu = 3 - local_rank.
ACCELERATORS_VAR = "HPSEARCH_ACCELERATORS"
ACCELERATOR_KIND_VAR = "HPSEARCH_ACCELERATOR_KIND"
CPU_LIST_VAR = "HPSEARCH_CPU_LIST"  # e.g. "0-3,8-11": pin the trial to these cores


TRIALS_DIRNAME = "trials"  # in the campaign directory, one folder per trial number


class TrialTerminated(RuntimeError):
    """The trial's process was ended by SIGTERM or SIGHUP from outside: what a batch system
    sends every process of a job it cancels, pre-empts or ends at its walltime. The app raises
    it so that Parsl retries the trial like one whose worker was lost with it (the worker
    often reports the dead trial before it gets its own signal)."""


@dataclass(frozen=True)
class TrialPaths:
    """The files of one trial, all inside `trials/<number>/`."""

    trial_dir: Path

    @classmethod
    def of(cls, campaign_dir: Path, number: int) -> TrialPaths:
        return cls(Path(campaign_dir) / TRIALS_DIRNAME / str(number))

    @property
    def params(self) -> Path:
        return self.trial_dir / "params.json"

    @property
    def result(self) -> Path:
        return self.trial_dir / "result.json"

    @property
    def progress(self) -> Path:
        return self.trial_dir / "progress.jsonl"

    @property
    def stop_file(self) -> Path:
        return self.trial_dir / "STOP"

    @property
    def log(self) -> Path:
        return self.trial_dir / "trial.log"

    def protocol_arguments(self) -> list[str]:
        return ["--params", str(self.params), "--out", str(self.result),
                "--progress", str(self.progress), "--stop-file", str(self.stop_file)]


def finite_number(value: Any) -> float | None:
    """`value` as a float when it is a real, finite number (a bool is not one), else None.

    The one test of "the objective is a finite number", on both sides of the protocol.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", required=True, type=Path, help="JSON file of hyperparameters")
    parser.add_argument("--out", required=True, type=Path, help="where to write the result JSON")
    parser.add_argument("--progress", type=Path, help="append one JSON line per epoch here")
    parser.add_argument("--stop-file", type=Path, help="stop at the next epoch once this exists")


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(payload, indent=2, default=_jsonable) + "\n")


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
        if status == STATUS_OK and finite_number(objective) is None:
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


# ---- the driver's side: reading a result file --------------------------------------------
# Result keys stored on the trial as user attributes when present (besides the hostname).
RECORDED_KEYS = ("metrics", "wall_time_s", "peak_memory_mb", "threads", "ranks", "images_per_s")
# Bounds on what a result or progress line may carry into the study: a runaway trial must not
# fill the database through its metrics.
MAX_METRICS = 200
MAX_TEXT = 1000  # characters of a metric name, a string metric or a reason


@dataclass(frozen=True)
class TrialResult:
    """What a trial's result file says, its types checked: `status` is one of STATUSES and
    `objective`, when given, a finite number (a result of status "ok" with a non-finite one
    is read as failed)."""

    status: str
    objective: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    hostname: str | None = None
    recorded: dict[str, Any] = field(default_factory=dict)  # the RECORDED_KEYS present

    @classmethod
    def parse(cls, payload: Any) -> TrialResult:
        """A result from the file's JSON; one that breaks the protocol is a failed result
        whose reason says why."""
        try:
            return cls._parse(payload)
        except ValueError as err:
            return cls(STATUS_FAILED, reason=f"malformed result file: {err}")

    @classmethod
    def _parse(cls, payload: Any) -> TrialResult:
        if not isinstance(payload, dict):
            raise ValueError("not a JSON object")
        status = payload.get("status")
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        metrics = checked_metrics(payload.get("metrics") or {})
        reason = _text(_optional(payload, "reason", str))
        hostname = _text(_optional(payload, "hostname", str))
        for key in ("wall_time_s", "peak_memory_mb", "images_per_s"):
            _optional(payload, key, numbers.Real)
        _optional(payload, "threads", dict)
        _optional(payload, "ranks", int)
        raw = _optional(payload, "objective", numbers.Real)
        objective = finite_number(raw)
        if status == STATUS_OK and raw is not None and objective is None:
            status, reason = STATUS_FAILED, f"objective is not a finite number: {raw!r}"
        recorded = {key: payload[key] for key in RECORDED_KEYS if key in payload}
        return cls(status, objective, metrics, reason, hostname, recorded)

    def settle(self, metric: str) -> TrialResult:
        """The result as recorded: status "ok" only with a finite objective, taken from
        `metrics[metric]` when the file gave none."""
        if self.status != STATUS_OK or self.objective is not None:
            return self
        value = finite_number(self.metrics.get(metric))
        if value is not None:
            return replace(self, objective=value)
        return replace(self, status=STATUS_FAILED,
                       reason=self.reason or "the result holds no finite objective")


def checked_metrics(metrics: Any) -> dict[str, Any]:
    """`metrics` when it is an object of at most MAX_METRICS names, each a number (not a bool)
    or a of at most MAX_TEXT characters; ValueError naming the first offender otherwise."""
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics must be an object, got {type(metrics).__name__}")
    if len(metrics) > MAX_METRICS:
        raise ValueError(f"metrics has {len(metrics)} entries, more than {MAX_METRICS}")
    for name, value in metrics.items():
        if len(name) > MAX_TEXT:
            raise ValueError(f"a metric name is longer than {MAX_TEXT} characters")
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise ValueError(f"metrics.{name} is longer than {MAX_TEXT} characters")
        elif value is not None and (isinstance(value, bool)
                                    or not isinstance(value, numbers.Real)):
            raise ValueError(f"metrics.{name} must be a number or a string, got "
                             f"{_text(repr(value), 40)}")
    return metrics


def _text(value: str | None, limit: int = MAX_TEXT) -> str | None:
    return value if value is None or len(value) <= limit else value[:limit] + "..."


def parse_progress_line(raw: bytes | str, metric: str) -> tuple[int, float] | None:
    """(step, value of `metric`) from one progress line; None when the line breaks the
    protocol or does not carry the metric as a finite number (nothing to report then)."""
    try:
        line = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(line, dict):
        return None
    step = line.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        return None
    try:
        metrics = checked_metrics(line.get("metrics") or {})
    except ValueError:
        return None
    value = finite_number(metrics.get(metric))
    return None if value is None else (step, value)


def _optional(payload: dict[str, Any], key: str, kind: Any) -> Any:
    value = payload.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
        raise ValueError(f"{key} has the wrong type ({type(value).__name__})")
    return value


def read_result(path: Path) -> TrialResult | None:
    """The result file at `path`; None when there is none (or it is not JSON at all)."""
    try:
        payload = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return TrialResult.parse(payload)
