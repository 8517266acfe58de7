"""What the driver prints while it runs: one live line on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def eta(done_this_run: int, elapsed_s: float, remaining: int | None) -> float | None:
    """Seconds left at the throughput of this run so far (None until something finished)."""
    if remaining is None or done_this_run <= 0 or elapsed_s <= 0:
        return None
    return remaining * elapsed_s / done_this_run


class ProgressLine:
    def __init__(self, stream: TextIO = sys.stderr, live: bool | None = None,
                 min_interval_s: float = 0.5):
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._width = 0

    def due(self) -> bool:
        """Whether `status` would draw now: the caller can skip composing the line."""
        return self.live and time.monotonic() - self._last >= self.min_interval_s

    def status(self, text: str, force: bool = False) -> None:
        """The state of the campaign: redrawn in place on a terminal, silent otherwise."""
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last < self.min_interval_s:
            return
        self._last = now
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def event(self, text: str) -> None:
        """Something happened (a trial ended, the driver stops): one line in any case."""
        if self.live and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
