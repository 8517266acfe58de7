"""Open a campaign's Optuna storage: SQLite in WAL mode with a busy timeout, or any SQLAlchemy URL.

WAL lets ``status``, ``best`` and the dashboard read while the driver writes; the busy timeout
makes a reader that meets a checkpoint wait instead of failing with "database is locked".
Every command opens its campaign here: `launch` and `resume` to write, `status`, `best` and
the dashboard read-only (SQLite itself then refuses any write).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import sqlalchemy
from sqlalchemy import event

if TYPE_CHECKING:
    from hpsearch._optuna_internals import FrozenStudy

from hpsearch.errors import UserError
from hpsearch.locate import CampaignLocation, locate_campaign, sqlite_url

BUSY_TIMEOUT_S = 30.0


def create_sqlite_file(db_path: Path) -> None:
    """Create an empty SQLite file readable by its owner only, already in WAL mode."""
    fd = os.open(db_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    # journal_mode=WAL is persistent: set once here, every later connection inherits it.
    with sqlite3.connect(db_path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


# The tables every Optuna RDB storage has; a database with other tables belongs to someone else.
OPTUNA_TABLES = frozenset({"studies", "trials", "version_info"})


def refuse_foreign_storage(url: str, study_name: str) -> None:
    """Before `launch` writes to an existing database: it must be empty or an Optuna storage
    without a study of this name. Checked read-only, so a refused database keeps its bytes."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is None or not path.exists() or path.stat().st_size == 0:
            return  # a new file: nothing of anyone's to protect
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
                tables = {row[0] for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
                names = ({row[0] for row in connection.execute(
                    "SELECT study_name FROM studies")} if "studies" in tables else set())
        except sqlite3.Error as err:
            raise UserError(f"storage: {url} is not a database hpsearch can use ({err}); "
                            "give a new file or an Optuna storage") from err
    else:
        try:
            engine = sqlalchemy.create_engine(url)
            try:
                tables = set(sqlalchemy.inspect(engine).get_table_names())
                names = set()
                if "studies" in tables:
                    with engine.connect() as connection:
                        names = {row[0] for row in connection.execute(
                            sqlalchemy.text("SELECT study_name FROM studies"))}
            finally:
                engine.dispose()
        except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as err:
            raise UserError(f"cannot open storage {url}: {first_line(err)}; check the URL") \
                from err
    if tables and not OPTUNA_TABLES <= tables:
        shown = ", ".join(sorted(tables)[:5])
        raise UserError(f"storage: {url} holds another program's tables ({shown}); give an "
                        "empty database or an Optuna storage")
    if study_name in names:
        raise UserError(f"name: storage {url} already holds a study '{study_name}'; choose "
                        "another name or resume that campaign")


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL (None for an in-memory database)."""
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    rest = rest.split("?", 1)[0]
    if rest.startswith("file:"):
        rest = rest[len("file:"):]
    return Path(rest) if rest and rest != ":memory:" else None


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
            ImportError, ValueError) as err:
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


def read_only_url(location: CampaignLocation) -> str:
    """The storage URL opened so that SQLite itself refuses any write."""
    if location.db_path is not None:
        return sqlite_url(location.db_path, read_only=True)
    url = location.url
    path = sqlite_path(url) if url.startswith("sqlite:///") else None
    if path is not None and "mode=ro" not in url:
        return sqlite_url(path, read_only=True)
    # Server databases cannot be opened read-only from the URL; the readers still only read.
    return url


def pick_study(storage: optuna.storages.BaseStorage, target: str,
               name: str | None = None) -> FrozenStudy:
    """The study `name`, else the one campaign the storage holds.

    Reads the studies table only: no trial is loaded, so it stays cheap on a large campaign.
    """
    try:
        studies = storage.get_all_studies()
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as err:
        raise UserError(f"cannot read {target} ({first_line(err)}): is this an hpsearch "
                        "campaign database?") from err
    if name is not None:
        for study in studies:
            if study.study_name == name:
                return study
        known = ", ".join(s.study_name for s in studies) or "none"
        raise UserError(f"{target} holds no study named {name!r} (studies: {known})")
    if not studies:
        raise UserError(f"{target} holds no campaign: launch one with 'hpsearch launch FILE'")
    campaigns = [s for s in studies if "campaign" in s.user_attrs]
    candidates = campaigns or studies
    if len(candidates) > 1:
        known = ", ".join(s.study_name for s in candidates)
        raise UserError(f"{target} holds several studies ({known}); pick one with --study or "
                        "give a campaign directory")
    return candidates[0]


def open_campaign(target: str, read_only: bool = False) -> tuple[optuna.Study, Path]:
    """The study and campaign directory behind a directory, a .db file or a URL."""
    location = locate_campaign(target)
    url = read_only_url(location) if read_only else location.url
    storage = open_storage(url, read_only=read_only)
    found = pick_study(storage, target)
    if "campaign" not in found.user_attrs:
        raise UserError(f"{target} holds an Optuna study that is no hpsearch campaign")
    study = optuna.Study(study_name=found.study_name, storage=storage)
    directory = location.directory or Path(found.user_attrs.get("directory", "."))
    return study, directory


def first_line(err: BaseException) -> str:
    """The database's own message, which Optuna and SQLAlchemy wrap."""
    cause = err.__cause__ if isinstance(err, optuna.exceptions.StorageInternalError) \
        and err.__cause__ else err
    if isinstance(cause, sqlalchemy.exc.DBAPIError) and cause.orig is not None:
        cause = cause.orig
    text = str(cause).strip().splitlines()
    return text[0] if text else type(err).__name__
