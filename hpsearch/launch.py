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
from hpsearch.errors import UserError
from hpsearch.lhs import latin_hypercube
from hpsearch.locate import DB_FILENAME, sqlite_url
from hpsearch.storage import create_sqlite_file, open_storage


def hpsearch_version() -> str:
    try:
        return importlib.metadata.version("hpsearch")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def resolve_site(campaign: Campaign) -> Any:
    from hpsearch.sites import load_site

    file = campaign.site.file
    if file is not None:
        path = Path(file).expanduser()
        file = str(path if path.is_absolute() else Path(campaign.source_dir) / path)
    return load_site(campaign.site.name, path=file, overrides=campaign.site.overrides or None)


def resolve_concurrency(campaign: Campaign, site: Any) -> int:
    slots = int(site.slots)
    if campaign.concurrency is None:
        return slots
    if campaign.concurrency > slots:
        raise UserError(
            f"concurrency: {campaign.concurrency} trials in flight but site '{campaign.site.name}'"
            f" has {slots} slots; lower concurrency or give the site more workers"
        )
    return campaign.concurrency


def enqueue_design(study: optuna.Study, campaign: Campaign, present: set[int] | None = None) -> int:
    """Enqueue the LHS points whose lhs_index is not in `present`; returns how many."""
    points = latin_hypercube(campaign.space, campaign.n_init, campaign.seed)
    added = 0
    for index, params in enumerate(points):
        if present and index in present:
            continue
        study.enqueue_trial(params, user_attrs={"source": "lhs", "lhs_index": index})
        added += 1
    return added


def create_campaign(campaign: Campaign, site: Any, directory: Path, campaign_text: str) -> Any:
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
        (directory / "trials").mkdir(mode=0o700)
        if campaign.storage is None:
            db_path = directory / DB_FILENAME
            create_sqlite_file(db_path)
            url = sqlite_url(db_path)
        else:
            url = campaign.storage
        storage = open_storage(url)
        try:
            study = optuna.create_study(storage=storage, study_name=campaign.name,
                                        direction=campaign.objective.direction)
        except optuna.exceptions.DuplicatedStudyError as err:
            raise UserError(f"name: storage {url} already holds a study '{campaign.name}'; "
                            "choose another name or resume that campaign") from err
        study.set_user_attr("campaign", campaign.to_dict())
        study.set_user_attr("site", site.to_dict())
        study.set_user_attr("hpsearch_version", hpsearch_version())
        study.set_user_attr("directory", str(directory.resolve()))
        study.set_user_attr("campaign_file", campaign_text)
        enqueue_design(study, campaign)
        return storage
    except BaseException:
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        raise


def launch(campaign_path: str, directory: str | None, display: Any = None) -> int:
    from hpsearch.driver import drive

    campaign = load_campaign(campaign_path)
    site = resolve_site(campaign)
    concurrency = resolve_concurrency(campaign, site)
    from hpsearch.samplers import make_sampler

    make_sampler(campaign.sampler, campaign.seed, campaign.n_init)  # fails before creating
    site.check_launchable()  # account, queue limits, network interface: before creating
    target = Path(directory) if directory else Path.cwd() / campaign.name
    text = Path(campaign_path).expanduser().read_text()
    storage = create_campaign(campaign, site, target.expanduser().resolve(), text)
    return drive(campaign, site, target.expanduser().resolve(), storage, concurrency, display)
