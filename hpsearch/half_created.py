"""Campaign directories half-created by a `launch` that was killed before creation was atomic.

Such a launch made the directory, then the database, its tables, the study, the study's
attributes and the design, one step at a time; a kill in between left a directory that
`resume` could not read ("holds no campaign") and `launch` would not overwrite ("already
exists"). Two cases, told apart by whether the campaign itself was recorded:
- nothing recorded (a database without tables, without a study, or with a study lacking its
  `campaign` attribute) and no trial ever ran: nothing in it can be kept, so `launch`
  replaces it and `resume` removes it, each saying so in one line;
- the campaign recorded but later attributes missing: `resume` fills them in (the site from
  the campaign's own [site] table) and enqueues the design points it lacks.
The database is read read-only here, and a directory holding anything else (a trial folder,
a file hpsearch did not write, a trial that ran) is never removed.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from hpsearch.locate import DB_FILENAME
from workflows.trial_io import TRIALS_DIRNAME

# What a killed launch could have written: the database with its journal files, and an
# empty folder for the trials.
_DB_FILES = {DB_FILENAME, f"{DB_FILENAME}-wal", f"{DB_FILENAME}-shm", f"{DB_FILENAME}-journal"}


def unrecorded(directory: Path) -> str | None:
    """What a half-created campaign at `directory` lacks, when it holds nothing that could be
    kept; None for anything else (a real campaign, another folder, a trial that ran)."""
    if not directory.is_dir() or not any(directory.iterdir()):
        return None
    for entry in directory.iterdir():
        if entry.name == TRIALS_DIRNAME and entry.is_dir() and not entry.is_symlink():
            if any(entry.iterdir()):
                return None
        elif entry.name not in _DB_FILES or not entry.is_file():
            return None
    db = directory / DB_FILENAME
    if not db.is_file():
        return None  # a campaign on a database server keeps only its trials folder here
    try:
        return _missing_in(db)
    except sqlite3.Error:
        return None  # not readable as SQLite: not ours to judge, let the usual message speak


def _missing_in(db: Path) -> str | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"studies", "trials", "study_user_attributes"} <= tables:
            return "no tables" if not tables else "no study tables"
        studies = connection.execute("SELECT COUNT(*) FROM studies").fetchone()[0]
        recorded = connection.execute(
            "SELECT COUNT(*) FROM study_user_attributes WHERE key = 'campaign'").fetchone()[0]
        ran = connection.execute(
            "SELECT COUNT(*) FROM trials WHERE state != 'WAITING'").fetchone()[0]
    connection.close()
    if recorded or ran:
        return None
    return "no study" if studies == 0 else "a study without the campaign's attributes"


def remove(directory: Path, missing: str, log: Callable[[str], None]) -> None:
    shutil.rmtree(directory)
    log(f"removed {directory}: a campaign half-created by a killed launch ({missing}; no "
        "trial had run)")


def repair_attributes(study: optuna.Study, campaign: Any, directory: Path,
                      version: str) -> list[str]:
    """Fill in the attributes a killed launch did not get to write; the names filled in."""
    from hpsearch.campaign_setup import resolve_site

    wanted: dict[str, Callable[[], Any]] = {
        "site": lambda: resolve_site(campaign).to_dict(),
        "hpsearch_version": lambda: version,
        "directory": lambda: str(directory.resolve()),
    }
    filled = []
    for key, value in wanted.items():
        if key not in study.user_attrs:
            study.set_user_attr(key, value())
            filled.append(key)
    return filled
