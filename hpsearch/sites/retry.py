"""Which failures are worth another try with the same parameters, and what a try costs.

A lost worker, a lost node, a trial ended by the batch system's SIGTERM or a block cut by
its walltime says nothing about the hyperparameters: the trial is retried by Parsl with the
same arguments. Anything else raised by the app is the trial's own failure and is not retried
(infinite cost). A trial whose command exits non-zero does not raise at all: the app returns
its return code and the driver records it as FAIL.

Costs, against Config.retries (`[retry].infrastructure_retries`):
- a trial lost after its block's drain time (the block reached its walltime: workers had
  stopped taking trials and the scheduler ended the job) costs nothing, up to
  `[retry].walltime_reruns` times; the allocation ended, the trial did not fail;
- any other lost worker or node costs 1.
When a trial was lost is read from the exception (Parsl stamps ManagerLost) and where it ran
from the placement line its app wrote (`workflows.placement`): the start of its block's
worker pool plus the drain period is the block's drain time.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from parsl.executors.errors import BadStateException
from parsl.executors.high_throughput.errors import ManagerLost, WorkerLost
from parsl.jobs.error_handlers import windowed_error_handler

from workflows.placement import placements
from workflows.trial_io import TrialTerminated

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (ManagerLost, WorkerLost,
                                                          BadStateException, TrialTerminated)


def is_infrastructure_failure(exc: BaseException) -> bool:
    return isinstance(exc, INFRASTRUCTURE_ERRORS)


def retry_cost(exc: Exception, task_record: Any) -> float:
    """Retry lost workers and nodes at cost 1, never the trial's own errors."""
    return 1.0 if is_infrastructure_failure(exc) else math.inf


class RetryPolicy:
    """Parsl's retry_handler for one site: walltime cuts are free, other losses cost 1."""

    def __init__(self, drain_period: float | None, walltime_reruns: int):
        self.drain_period = drain_period  # seconds from a block's start; None: no walltime
        self.walltime_reruns = walltime_reruns
        self._free: dict[int, int] = {}  # Parsl task id -> walltime re-runs granted
        self._lock = threading.Lock()

    def __call__(self, exc: Exception, task_record: Any) -> float:
        cost = retry_cost(exc, task_record)
        if cost != 1.0 or not self.cut_by_walltime(exc, task_record):
            return cost
        with self._lock:
            task = task_record.get("id", id(task_record))
            granted = self._free.get(task, 0)
            if granted >= self.walltime_reruns:
                return 1.0  # a trial longer than a block would otherwise run forever
            self._free[task] = granted + 1
        return 0.0

    def cut_by_walltime(self, exc: Exception, task_record: Any) -> bool:
        if self.drain_period is None or not isinstance(
                exc, ManagerLost | WorkerLost | TrialTerminated):
            return False
        trial_dir = _trial_dir(task_record)
        attempts = placements(trial_dir) if trial_dir else []
        if not attempts or not attempts[-1].get("pool_started"):
            return False
        lost_at = getattr(exc, "tstamp", None) or time.time()
        return lost_at >= float(attempts[-1]["pool_started"]) + self.drain_period


def _trial_dir(task_record: Any) -> str | None:
    # Both trial apps take (command, trial_dir, env, result_path).
    args: Any = task_record.get("args") or ()
    return args[1] if len(args) > 1 and isinstance(args[1], str) else None


def block_error_handler(window: int) -> bool | Callable[..., None]:
    """Parsl's default handler marks the executor broken after one failed block, and every
    later trial then fails; only `window` failed blocks in a row do that here (0: never)."""
    if window == 0:
        return False
    return functools.partial(windowed_error_handler, threshold=window)
