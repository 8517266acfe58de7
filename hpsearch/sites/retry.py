"""Which failures are worth another try with the same parameters.

A lost worker, a lost node or a block cut by its walltime says nothing about the
hyperparameters: the trial is retried (cost 1 against Config.retries). Anything else raised
by the app is the trial's own failure and is not retried (infinite cost). A trial whose
command exits non-zero does not raise at all: the app returns its return code and the driver
records it as FAIL.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from parsl.executors.errors import BadStateException
from parsl.executors.high_throughput.errors import ManagerLost, WorkerLost
from parsl.jobs.error_handlers import windowed_error_handler

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (ManagerLost, WorkerLost,
                                                          BadStateException)


def is_infrastructure_failure(exc: BaseException) -> bool:
    return isinstance(exc, INFRASTRUCTURE_ERRORS)


def retry_cost(exc: Exception, task_record: Any) -> float:
    """Parsl's retry_handler: retry lost workers and nodes, never the trial's own errors."""
    return 1.0 if is_infrastructure_failure(exc) else math.inf


def block_error_handler(window: int) -> bool | Callable[..., None]:
    """Parsl's default handler marks the executor broken after one failed block, and every
    later trial then fails; only `window` failed blocks in a row do that here (0: never)."""
    if window == 0:
        return False
    return functools.partial(windowed_error_handler, threshold=window)
