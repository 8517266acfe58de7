"""Open a campaign's Optuna storage: SQLite in WAL mode with a busy timeout, or any SQLAlchemy URL.

WAL lets ``status``, ``best`` and the dashboard read while the driver writes; the busy timeout
makes a reader that meets a checkpoint wait instead of failing with "database is locked".
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from sqlalchemy import event

from hpsearch.errors import UserError
from hpsearch.locate import sqlite_url

BUSY_TIMEOUT_S = 30.0


def create_sqlite_file(db_path: Path) -> None:
    """Create an empty SQLite file readable by its owner only, already in WAL mode."""
    fd = os.open(db_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    # journal_mode=WAL is persistent: set once here, every later connection inherits it.
    with sqlite3.connect(db_path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def _on_connect(read_only: bool):
    def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        if not read_only:
            cursor.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL is durable across a driver crash (only power loss can lose
            # the last commits) and avoids one fsync per trial update.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return set_pragmas


def open_storage(url: str, read_only: bool = False) -> optuna.storages.RDBStorage:
    """RDBStorage for ``url``; SQLite connections get WAL and a busy timeout."""
    is_sqlite = url.startswith("sqlite")
    engine_kwargs: dict[str, Any] = {}
    if is_sqlite:
        # The sqlite3 driver's own timeout covers the connections Optuna opens while the
        # storage is being constructed, before the listener below is attached.
        engine_kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S}
    try:
        storage = optuna.storages.RDBStorage(
            url, engine_kwargs=engine_kwargs, skip_table_creation=read_only
        )
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError,
            ImportError) as err:
        cause = err.__cause__ or err
        first = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        if read_only:
            raise UserError(f"cannot read storage {url} ({first}); if the campaign is being "
                            "created, try again in a moment") from err
        raise UserError(f"cannot open storage {url}: {first}; check the path or URL") from err
    if is_sqlite:
        event.listen(storage.engine, "connect", _on_connect(read_only))
        storage.engine.dispose()  # every later connection goes through the listener
    return storage


def open_sqlite(db_path: Path, read_only: bool = False) -> optuna.storages.RDBStorage:
    return open_storage(sqlite_url(db_path, read_only=read_only), read_only=read_only)
