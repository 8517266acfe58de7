"""The infrastructure retries of a trial, kept on its Parsl task record for the study.

Parsl retries a trial whose worker or node was lost (as often as the site allows), and only
its own log said so: a trial that succeeded on its second try looked like any other, and
Parsl clears a task's failure history when it retries it. So the retry handler is wrapped to
note each failed try on the task record, and the driver stores them on the trial as
`retries`: [{"reason", "host"}], which `status` and the dashboard show.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

RECORD_KEY = "hpsearch_retries"  # our own key on Parsl's task record
REASON_CHARS = 300
_HOST = re.compile(r"on host ([\w.-]+)")


RetryHandler = Callable[[Exception, Any], float]


def recording(handler: RetryHandler) -> RetryHandler:
    """`handler` (a Parsl retry handler) that also notes the failed try on the task record."""

    @functools.wraps(handler)
    def record_and_decide(err: Exception, task_record: Any) -> float:
        text = " ".join(f"{type(err).__name__}: {err}".split())
        host = getattr(err, "hostname", None)
        if host is None and (found := _HOST.search(text)):
            host = found.group(1).rstrip(".")
        task_record.setdefault(RECORD_KEY, []).append(
            {"reason": text[:REASON_CHARS], "host": host})
        return handler(err, task_record)

    return record_and_decide


def retry_attrs(future: Any) -> dict[str, Any]:
    """{"retries": [...]} for a trial's future whose task failed a try, else {}."""
    record = getattr(future, "task_record", None) or {}
    retries = list(record.get(RECORD_KEY) or [])
    return {"retries": retries} if retries else {}
