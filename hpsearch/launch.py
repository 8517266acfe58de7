"""`hpsearch launch`: validate everything, create the campaign, enqueue the design, drive.

Nothing is created until the campaign file, the site and the sampler are known to be good;
if creating the study fails half-way, the new directory is removed again.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path
from typing import Any

import optuna

from hpsearch.campaign import Campaign, load_campaign
from hpsearch.campaign_setup import enqueue_design, resolve_concurrency, resolve_site
from hpsearch.errors import UserError
from hpsearch.locate import DB_FILENAME, sqlite_url
from hpsearch.progress_line import ProgressLine
from hpsearch.sites import Site
from hpsearch.storage import create_sqlite_file, open_storage
from hpsearch.warm_start import Prior, load_priors, start_from
from workflows.trial_io import TRIALS_DIRNAME


def hpsearch_version() -> str:
    try:
        return importlib.metadata.version("hpsearch")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def create_campaign(campaign: Campaign, site: Site, directory: Path, campaign_text: str,
                    priors: list[Prior] | None = None) -> optuna.storages.BaseStorage:
    """Make the directory, the database and the study; returns the storage."""
    created = not directory.exists()
    if not created and any(directory.iterdir()):
        raise UserError(
            f"{directory} already exists and is not empty: resume it with "
            f"'hpsearch resume {directory}' or choose another --dir"
        )
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)
        (directory / TRIALS_DIRNAME).mkdir(mode=0o700)
        if campaign.storage is None:
            db_path = directory / DB_FILENAME
            create_sqlite_file(db_path)
            url = sqlite_url(db_path)
        else:
            url = campaign.storage
        storage = open_storage(url)
        try:
            directions = [optuna.study.StudyDirection[d.upper()]
                          for d in campaign.objective.directions]
            study = optuna.create_study(storage=storage, study_name=campaign.name,
                                        directions=directions)
        except optuna.exceptions.DuplicatedStudyError as err:
            raise UserError(f"name: storage {url} already holds a study '{campaign.name}'; "
                            "choose another name or resume that campaign") from err
        study.set_user_attr("campaign", campaign.to_dict())
        study.set_user_attr("site", site.to_dict())
        study.set_user_attr("hpsearch_version", hpsearch_version())
        study.set_user_attr("directory", str(directory.resolve()))
        study.set_user_attr("campaign_file", campaign_text)
        skipped = start_from(study, campaign, priors) if priors else set()
        enqueue_design(study, campaign, present=skipped)
        return storage
    except BaseException:
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        raise


def launch(campaign_path: str, directory: str | None, display: Any = None) -> int:
    campaign = load_campaign(campaign_path)
    text = Path(campaign_path).expanduser().read_text()
    return launch_campaign(campaign, text, directory, display)[1]


def launch_campaign(campaign: Campaign, text: str, directory: str | None,
                    display: Any = None) -> tuple[Path, int]:
    """Create the campaign in `directory` (default ./<name>) and drive it: (directory, code)."""
    from hpsearch.driver import drive
    from hpsearch.samplers import make_sampler

    site = resolve_site(campaign)
    concurrency = resolve_concurrency(campaign, site)
    make_sampler(campaign.sampler, campaign.seed, campaign.n_init)  # fails before creating
    display = display or ProgressLine()
    priors = load_priors(campaign)  # an unreadable earlier campaign fails before creating
    target = (Path(directory) if directory else Path.cwd() / campaign.name).expanduser().resolve()
    storage = create_campaign(campaign, site, target, text, priors)
    if campaign.warm_start:
        display.event(f"warm start: {len(priors)} prior trials from {len(campaign.warm_start)} "
                      "earlier campaign(s)")
    return target, drive(campaign, site, target, storage, concurrency, display)


__all__ = ["create_campaign", "enqueue_design", "hpsearch_version", "launch", "launch_campaign",
           "resolve_concurrency", "resolve_site"]
