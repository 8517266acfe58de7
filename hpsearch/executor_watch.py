"""Noticing that Parsl's executor is gone, which Parsl itself does not tell the driver.

When the interchange process dies (killed, out of memory), the futures of the trials in
flight never complete and Parsl's shutdown waits for it for ever: in a batch job that burns
the allocation. The driver asks `lost()` each turn of its loop and stops when it answers.
"""

from __future__ import annotations

import subprocess
import time

CHECK_PERIOD_S = 1.0  # a process poll is cheap; once a second bounds the reaction time


class ExecutorWatch:
    def __init__(self, interchanges: list[subprocess.Popen]):
        self.interchanges = interchanges
        self._last_check = 0.0

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
        return None

    def any_dead(self) -> bool:
        return any(process.poll() is not None for process in self.interchanges)
