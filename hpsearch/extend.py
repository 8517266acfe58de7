"""Extend and move a campaign on resume: a new trial budget, wall time per run, or site.

Everything is checked before anything is written (`plan_changes`); the new budget and site
then replace the stored ones and the change is appended to the study's "history" attribute,
so `hpsearch status` and a reader of the database see what ran where. Finished trials stay
as they are: only what is still to run uses the new values.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from hpsearch.campaign import Budget, Campaign, SiteChoice, budget_wall_time
from hpsearch.campaign_setup import resolve_concurrency
from hpsearch.errors import UserError
from hpsearch.sites import Site, load_site
from hpsearch.study_view import uses_budget


@dataclass(frozen=True)
class Changes:
    campaign: Campaign
    site: Site
    record: dict[str, Any]  # what changed, for the history; empty when nothing did


def plan_changes(study: optuna.Study, campaign: Campaign, site: Site, trials: int | None = None,
                 wall_time: str | None = None, site_name: str | None = None,
                 overrides: dict[str, Any] | None = None) -> Changes:
    """The campaign and site after the requested changes; UserError on any bad value."""
    record: dict[str, Any] = {}
    budget = campaign.budget
    if trials is not None:
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise UserError(f"--trials: must be a whole number of trials >= 1, got {trials!r}")
        used = sum(1 for t in study.get_trials(deepcopy=False) if uses_budget(t))
        if trials < used:
            raise UserError(f"--trials: {used} trials are already used; give at least {used}")
        budget = dataclasses.replace(budget, trials=trials)
        record["trials"] = trials
    if wall_time is not None:
        seconds = budget_wall_time(wall_time, "--wall-time")
        budget = Budget(trials=budget.trials, wall_time_s=seconds)
        record["wall_time"] = wall_time
    choice = campaign.site
    if site_name is not None or overrides:
        choice = _site_choice(campaign, site_name, overrides or {})
        site = _load(choice, campaign)
        record["site"] = choice.to_dict()
    changed = dataclasses.replace(campaign, budget=budget, site=choice)
    resolve_concurrency(changed, site)  # a site too small for the campaign: refused here
    return Changes(changed, site, record)


def _site_choice(campaign: Campaign, name: str | None, overrides: dict[str, Any]) -> SiteChoice:
    if name is None:  # --set alone: the same site with more overrides
        return SiteChoice(campaign.site.name, campaign.site.file,
                          {**campaign.site.overrides, **overrides})
    if not name:
        raise UserError("--site: give a site name (hpsearch sites list) or a site file")
    if name.endswith(".toml") or Path(name).expanduser().is_file():
        path = Path(name).expanduser().resolve()
        if not path.is_file():
            raise UserError(f"--site: {name}: no such site file; check the path")
        return SiteChoice(path.stem, str(path), overrides)
    return SiteChoice(name, None, overrides)


def _load(choice: SiteChoice, campaign: Campaign) -> Site:
    file = choice.file
    if file is not None and not Path(file).is_absolute():
        file = str(Path(campaign.source_dir) / file)
    return load_site(choice.name, path=file, overrides=choice.overrides or None)


def record_changes(study: optuna.Study, changes: Changes) -> None:
    """Store the new campaign and site, and append the change to the history."""
    if not changes.record:
        return
    history = list(study.user_attrs.get("history", []))
    history.append({"at": datetime.datetime.now().isoformat(timespec="seconds"),
                    "command": "resume", **changes.record})
    study.set_user_attr("campaign", changes.campaign.to_dict())
    study.set_user_attr("site", changes.site.to_dict())
    study.set_user_attr("history", history)
