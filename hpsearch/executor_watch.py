"""Noticing that Parsl's executor is gone, hung or starved, which Parsl itself does not tell
the driver.

When the interchange process dies (killed, out of memory), the futures of the trials in
flight never complete and Parsl's shutdown waits for it for ever: in a batch job that burns
the allocation. An interchange that lives but no longer answers (stopped, wedged) holds the
driver the same way. So does one that answers while no worker pool is connected to it and
none is on its way (the pools were killed, their block failed and no new one starts): the
trials in flight wait for a worker that never comes. The driver asks `lost()` each turn of
its loop and stops when it answers; a hung interchange is killed first, so the driver's exit
path is the dead one's.

How long an interchange may take to answer is `HPSEARCH_EXECUTOR_TIMEOUT_S` seconds
(default ANSWER_TIMEOUT_S). How long trials may wait with no worker connected is the site's
`[executor].no_worker_timeout`; blocks still queued by the batch system (Parsl's job state
PENDING or HELD) are a legitimate wait and stop that clock. The interchange is asked which
managers are connected from a thread, so a hung command channel never blocks the loop.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Any

CHECK_PERIOD_S = 1.0  # a process poll is cheap; once a second bounds the reaction time
ANSWER_TIMEOUT_S = 120.0
TIMEOUT_VAR = "HPSEARCH_EXECUTOR_TIMEOUT_S"
# The interchange is asked about its managers every tenth of the no-worker limit (at least
# every answer timeout, at most once a second), so the driver stops within 1.1 times the limit.
PROBES_PER_LIMIT = 10
MIN_PROBE_PERIOD_S = 1.0
QUEUED_STATES = frozenset({"PENDING", "HELD"})  # a block the batch system has not started


def answer_timeout_s() -> float:
    try:
        return max(1.0, float(os.environ.get(TIMEOUT_VAR, ANSWER_TIMEOUT_S)))
    except ValueError:
        return ANSWER_TIMEOUT_S


class ExecutorWatch:
    def __init__(self, interchanges: list[subprocess.Popen], executors: Sequence[Any] = (),
                 timeout_s: float | None = None, no_worker_s: float | None = None):
        self.interchanges = interchanges
        self.executors = [e for e in executors if hasattr(e, "connected_managers")]
        self.timeout_s = timeout_s or answer_timeout_s()
        self.no_worker_s = no_worker_s
        self.probe_period_s = self.timeout_s if no_worker_s is None else max(
            MIN_PROBE_PERIOD_S, min(self.timeout_s, no_worker_s / PROBES_PER_LIMIT))
        self._last_check = 0.0
        self._probe_started = time.monotonic()
        self._probe: threading.Thread | None = None
        self._managers: int | None = None  # connected managers at the last answer
        self._answered_at = 0.0
        self._starved_since: float | None = None

    def lost(self) -> str | None:
        """Why the executor can run no more trials, or None while it can."""
        now = time.monotonic()
        if now - self._last_check < CHECK_PERIOD_S:
            return None
        self._last_check = now
        for process in self.interchanges:
            code = process.poll()
            if code is not None:
                how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
                return f"Parsl's interchange (pid {process.pid}) died ({how})"
        return self._unanswered(now) or self._starved(now)

    def _unanswered(self, now: float) -> str | None:
        if not self.executors:
            return None
        probing = self._probe is not None and self._probe.is_alive()
        if probing and now - self._probe_started > self.timeout_s:
            pids = ", ".join(str(p.pid) for p in self.interchanges)
            for process in self.interchanges:
                process.kill()  # hung: from here on it is a dead one, whose exit path is known
            return (f"Parsl's interchange (pid {pids}) has not answered for "
                    f"{self.timeout_s:.0f} s; stopped it")
        if not probing and now - self._probe_started >= self.probe_period_s:
            self._probe_started = now
            self._probe = threading.Thread(target=self._ask, daemon=True,
                                           name="hpsearch-executor-watch")
            self._probe.start()
        return None

    def _ask(self) -> None:
        managers = 0
        for executor in self.executors:
            try:
                managers += len(executor.connected_managers())
            except Exception:  # noqa: BLE001 (a dead channel shows as a dead process next turn)
                return
        self._managers, self._answered_at = managers, time.monotonic()

    def _starved(self, now: float) -> str | None:
        """Trials waiting with no worker connected and no block queued, for too long."""
        if self.no_worker_s is None or self._managers is None:
            return None
        waiting = sum(_outstanding(e) for e in self.executors)
        # A copy first: Parsl's poller thread adds blocks to this dict as it submits them.
        states = [_state_name(s) for e in self.executors
                  for s in dict(getattr(e, "status_facade", {})).values()]
        if self._managers > 0 or waiting == 0 or QUEUED_STATES.intersection(states):
            self._starved_since = None
            return None
        if self._starved_since is None:
            self._starved_since = self._answered_at
        if now - self._starved_since < self.no_worker_s:
            return None
        blocks = ", ".join(f"{states.count(s)} {s.lower()}" for s in sorted(set(states)))
        return (f"no worker has been connected to Parsl's executor for "
                f"{self.no_worker_s:.0f} s while {waiting} trial(s) wait "
                f"(blocks: {blocks or 'none'}; [executor].no_worker_timeout)")


def _outstanding(executor: Any) -> int:
    try:
        return int(executor.outstanding())
    except Exception:  # noqa: BLE001 (an executor without the count has nothing to wait for)
        return 0


def _state_name(status: Any) -> str:
    state = getattr(status, "state", None)
    return str(getattr(state, "name", state))
