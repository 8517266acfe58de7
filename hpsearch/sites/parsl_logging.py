"""Parsl's own log (`parsl/<run>/parsl.log`), kept at a size that cannot fill a disk.

Parsl logs at DEBUG into one growing file by default: a long campaign writes gigabytes, and
on a full disk every record adds a traceback on stderr. Here it logs at INFO, rotates at
LOG_BYTES (LOG_BACKUPS old files kept), and a record that cannot be written is dropped
silently: the driver reports a full disk itself, once.
"""

from __future__ import annotations

import logging
import logging.handlers
import pathlib
from collections.abc import Callable

from parsl.log_utils import DEFAULT_FORMAT
from parsl.logconfigs.base import LogConfig

LOG_BYTES = 20 * 1024 * 1024
LOG_BACKUPS = 2


class _QuietRotatingHandler(logging.handlers.RotatingFileHandler):
    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        pass


class BoundedFileLogging(LogConfig):
    def __init__(self, level: int = logging.INFO, max_bytes: int = LOG_BYTES,
                 backups: int = LOG_BACKUPS):
        super().__init__()
        self.level = level
        self.max_bytes = max_bytes
        self.backups = backups

    def initialize_logging(self, *, log_dir: pathlib.Path, log_name: str) -> Callable[[], None]:
        log_dir.mkdir(exist_ok=True, parents=True)
        handler = _QuietRotatingHandler(log_dir / f"{log_name}.log", maxBytes=self.max_bytes,
                                        backupCount=self.backups)
        handler.setLevel(self.level)
        handler.setFormatter(logging.Formatter(DEFAULT_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
        loggers = [logging.getLogger("parsl"), logging.getLogger("concurrent.futures")]
        for logger in loggers:
            logger.setLevel(self.level)
            logger.addHandler(handler)

        def unregister() -> None:
            for logger in loggers:
                logger.removeHandler(handler)
            try:
                handler.close()
            except (OSError, ValueError):
                pass  # the last records are lost to a full disk; the driver says so

        return unregister
