"""What `launch` and `resume` both do with a campaign before driving it: find its site, size
its concurrency, enqueue the design points it still lacks.

Kept apart from the read-only commands: the design needs scipy (the Latin hypercube).
"""

from __future__ import annotations

from pathlib import Path

import optuna

from hpsearch.campaign import Campaign
from hpsearch.errors import UserError
from hpsearch.lhs import latin_hypercube
from hpsearch.sites import Site, load_site


def resolve_site(campaign: Campaign) -> Site:
    file = campaign.site.file
    if file is not None:
        path = Path(file).expanduser()
        file = str(path if path.is_absolute() else Path(campaign.source_dir) / path)
    return load_site(campaign.site.name, path=file, overrides=campaign.site.overrides or None)


def resolve_concurrency(campaign: Campaign, site: Site) -> int:
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
