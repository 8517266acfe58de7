"""`hpsearch launch`: validate everything, create the campaign, enqueue the design, drive.

Nothing is created until the campaign file, the site and the sampler are known to be good;
creating the campaign is all or nothing (`campaign_create`).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from hpsearch.campaign import Campaign, load_campaign, read_campaign_text
from hpsearch.campaign_create import create_campaign, refuse_existing
from hpsearch.campaign_setup import enqueue_design, resolve_concurrency, resolve_site
from hpsearch.entrypoint_check import check_entrypoint
from hpsearch.errors import UserError
from hpsearch.file_modes import make_private
from hpsearch.progress_line import ProgressLine
from hpsearch.storage import refuse_foreign_storage
from hpsearch.warm_start import load_priors


def hpsearch_version() -> str:
    try:
        return importlib.metadata.version("hpsearch")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def launch(campaign_path: str, directory: str | None, display: Any = None) -> int:
    make_private()
    campaign = load_campaign(campaign_path)
    text = read_campaign_text(Path(campaign_path).expanduser())
    return launch_campaign(campaign, text, directory, display)[1]


def launch_campaign(campaign: Campaign, text: str, directory: str | None,
                    display: Any = None) -> tuple[Path, int]:
    """Create the campaign in `directory` (default ./<name>) and drive it: (directory, code)."""
    from hpsearch.driver import drive
    from hpsearch.samplers import make_sampler
    from hpsearch.sites.parsl_config import check_launchable

    make_private()
    site = resolve_site(campaign)
    concurrency = resolve_concurrency(campaign, site)
    make_sampler(campaign.sampler, campaign.seed, campaign.n_init)  # fails before creating
    check_launchable(site)  # account, network interface: before creating
    target = (Path(directory) if directory else Path.cwd() / campaign.name).expanduser().resolve()
    refuse_existing(target)
    if campaign.storage is not None:
        refuse_foreign_storage(campaign.storage, campaign.name)
    priors = load_priors(campaign)  # an unreadable earlier campaign fails before creating
    design_left = campaign.n_init - len(priors)  # each prior stands in for one design point
    if campaign.budget.trials is not None and design_left > campaign.budget.trials:
        raise UserError(f"n_init: {design_left} design points left after {len(priors)} "
                        f"warm-start priors but budget.trials is {campaign.budget.trials}; "
                        "lower n_init or raise the budget")
    check_entrypoint(campaign, site)
    display = display or ProgressLine()
    storage = create_campaign(campaign, site, target, text, version=hpsearch_version(),
                              priors=priors)
    if campaign.warm_start:
        display.event(f"warm start: {len(priors)} prior trials from {len(campaign.warm_start)} "
                      "earlier campaign(s)")
    return target, drive(campaign, site, target, storage, concurrency, display)


__all__ = ["create_campaign", "enqueue_design", "hpsearch_version", "launch", "launch_campaign",
           "resolve_concurrency", "resolve_site"]
