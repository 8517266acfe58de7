"""Noticing that Parsl's executor is gone or hung, which Parsl itself does not tell the driver.

When the interchange process dies (killed, out of memory), the futures of the trials in
flight never complete and Parsl's shutdown waits for it for ever: in a batch job that burns
the allocation. An interchange that lives but no longer answers (stopped, wedged) holds the
driver the same way. The driver asks `lost()` each turn of its loop and stops when it
answers; a hung interchange is killed first, so the driver's exit path is the dead one's.

How long an interchange may take to answer is `HPSEARCH_EXECUTOR_TIMEOUT_S` seconds
(default ANSWER_TIMEOUT_S); it is asked once per that period, from a thread, so a hung
command channel never blocks the loop.
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


def answer_timeout_s() -> float:
    try:
        return max(1.0, float(os.environ.get(TIMEOUT_VAR, ANSWER_TIMEOUT_S)))
    except ValueError:
        return ANSWER_TIMEOUT_S


class ExecutorWatch:
    def __init__(self, interchanges: list[subprocess.Popen], executors: Sequence[Any] = (),
                 timeout_s: float | None = None):
        self.interchanges = interchanges
        self.executors = [e for e in executors if hasattr(e, "connected_managers")]
        self.timeout_s = timeout_s or answer_timeout_s()
        self._last_check = 0.0
        self._probe_started = time.monotonic()
        self._probe: threading.Thread | None = None

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
        return self._unanswered(now)

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
        if not probing and now - self._probe_started >= self.timeout_s:
            self._probe_started = now
            self._probe = threading.Thread(target=self._ask, daemon=True,
                                           name="hpsearch-executor-watch")
            self._probe.start()
        return None

    def _ask(self) -> None:
        for executor in self.executors:
            try:
                executor.connected_managers()
            except Exception:  # noqa: BLE001 (a dead channel shows as a dead process next turn)
                return
