"""How the driver ends when the machine fails under it: disk full, output pipe closed,
database unwritable. One line says what happened, the trials in flight are recorded as
interrupted where the database still takes writes (otherwise `resume` records them), and
the exit code is EXIT_FAULT.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from typing import TextIO

import optuna
import sqlalchemy

from hpsearch.storage import first_line

EXIT_FAULT = 3
EXIT_SIGNAL = 130
FAULTS: tuple[type[BaseException], ...] = (
    OSError, sqlite3.Error, sqlalchemy.exc.SQLAlchemyError,
    optuna.exceptions.StorageInternalError)


def describe_fault(err: BaseException) -> str:
    if isinstance(err, BrokenPipeError):
        return "the output pipe was closed"
    if isinstance(err, OSError):
        where = f" writing {err.filename}" if err.filename else ""
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"disk full{where}"
        return f"{err.strerror or type(err).__name__}{where}"
    text = first_line(err)
    if "full" in text.lower():
        return f"disk full: the database cannot grow ({text})"
    return f"the database failed ({text})"


def is_broken_output(err: BaseException) -> bool:
    return isinstance(err, BrokenPipeError) or (
        isinstance(err, OSError) and err.errno == errno.EPIPE)


def silence(stream: TextIO) -> None:
    """Point a dead output stream at /dev/null, so later writes (ours, Parsl's, the
    interpreter's at exit) neither fail nor print a traceback."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass
