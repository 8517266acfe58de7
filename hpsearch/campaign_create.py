"""Creating a campaign atomically: complete, or not there at all.

The directory, its database, the study, its attributes and the whole Latin-hypercube design
are built in a staging folder beside the target, `.<name>.creating.<host>.<pid>`, and then
renamed onto the target in one step. A `launch` killed at any moment leaves either nothing
or a finished campaign; what a killed one staged is removed by the next `launch` of that
target, with one line saying so. Of two launches racing for one directory, the rename lets
exactly one win; the other removes only its own staging folder and says the directory exists.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import optuna
import psutil

from hpsearch import half_created
from hpsearch.campaign import Campaign
from hpsearch.campaign_setup import enqueue_design
from hpsearch.errors import UserError
from hpsearch.locate import DB_FILENAME, sqlite_url
from hpsearch.sites import Site
from hpsearch.storage import create_sqlite_file, open_storage
from hpsearch.warm_start import Prior, start_from
from workflows.trial_io import TRIALS_DIRNAME

STAGING_MARK = ".creating."


def staging_folder(directory: Path) -> Path:
    return directory.with_name(f".{directory.name}{STAGING_MARK}{socket.gethostname()}."
                               f"{os.getpid()}")


def remove_stale_staging(directory: Path, log: Callable[[str], None]) -> None:
    """Remove what launches of `directory` killed on this host left staged."""
    prefix = f".{directory.name}{STAGING_MARK}{socket.gethostname()}."
    if not directory.parent.is_dir():
        return
    for staged in directory.parent.glob(f"{prefix}*"):
        pid = staged.name[len(prefix):]
        if not pid.isdigit() or (psutil.pid_exists(int(pid)) and int(pid) != os.getpid()):
            continue  # another launch is creating it right now
        shutil.rmtree(staged, ignore_errors=True)
        log(f"removed {staged.name}: a half-created campaign left by a killed launch "
            f"(process {pid})")


def refuse_existing(directory: Path) -> None:
    """The target must be new, an empty folder, or a campaign an older launch half-created
    and left holding nothing (replaced, see half_created.py): checked first, before slower
    checks."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())) and (
            half_created.unrecorded(directory) is None):
        raise _refuse_existing(directory)


def _refuse_existing(directory: Path) -> UserError:
    return UserError(f"{directory} already exists and is not empty: resume it with "
                     f"'hpsearch resume {directory}' or choose another --dir")


def create_campaign(campaign: Campaign, site: Site, directory: Path, campaign_text: str,
                    version: str = "unknown", log: Callable[[str], None] | None = None,
                    priors: list[Prior] | None = None) -> optuna.storages.BaseStorage:
    """Make the directory, the database and the study, all or nothing; returns the storage."""
    log = log or (lambda line: print(line, file=sys.stderr))
    refuse_existing(directory)
    if (missing := half_created.unrecorded(directory)) is not None:
        half_created.remove(directory, missing, log)
    directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    remove_stale_staging(directory, log)
    staging = staging_folder(directory)
    storage: optuna.storages.RDBStorage | None = None
    try:
        staging.mkdir(mode=0o700)
        (staging / TRIALS_DIRNAME).mkdir(mode=0o700)
        url = campaign.storage
        if url is None:
            create_sqlite_file(staging / DB_FILENAME)
            url = sqlite_url(staging / DB_FILENAME)
        storage = open_storage(url)
        study = _create_study(storage, campaign, url)
        study.set_user_attr("campaign", campaign.to_dict())
        study.set_user_attr("site", site.to_dict())
        study.set_user_attr("hpsearch_version", version)
        study.set_user_attr("directory", str(directory.resolve()))
        study.set_user_attr("campaign_file", campaign_text)
        skipped = start_from(study, campaign, priors) if priors else set()
        enqueue_design(study, campaign, present=skipped)
        storage.engine.dispose()  # the SQLite file is complete and closed before it moves
        _commit(staging, directory)
    except BaseException:
        if storage is not None and campaign.storage is not None:
            _delete_study(storage, campaign.name)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if campaign.storage is None:
        return open_storage(sqlite_url(directory / DB_FILENAME))
    return storage


def _create_study(storage: optuna.storages.RDBStorage, campaign: Campaign,
                  url: str) -> optuna.Study:
    directions = [optuna.study.StudyDirection[d.upper()] for d in campaign.objective.directions]
    try:
        return optuna.create_study(storage=storage, study_name=campaign.name,
                                   directions=directions)
    except optuna.exceptions.DuplicatedStudyError as err:
        raise UserError(f"name: storage {url} already holds a study '{campaign.name}'; "
                        "choose another name or resume that campaign") from err


def _commit(staging: Path, directory: Path) -> None:
    """The one step that makes the campaign exist: rename, which replaces an empty folder
    and fails on a non-empty one (a racing launch won)."""
    try:
        os.rename(staging, directory)
    except OSError as err:
        if err.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise _refuse_existing(directory) from err
        raise


def _delete_study(storage: optuna.storages.RDBStorage, name: str) -> None:
    """Undo a study this launch created in a server database (best effort)."""
    try:
        optuna.delete_study(study_name=name, storage=storage)
    except Exception:  # noqa: BLE001 (already failing; the first error is the one to show)
        pass
