"""`hpsearch resume`: repair what a stopped or killed driver left, then drive to the budget.

Before driving again:
- a RUNNING trial has no driver any more (orphan). If its result file is there, the result is
  recorded (nothing computed is lost); otherwise it becomes FAIL with interrupted=True.
- every interrupted trial without a retry gets one: a WAITING trial with the same
  parameters, user_attrs source="retry", retry_of=<number> (and its lhs_index, if it was a
  design point), so the design is neither repeated nor skipped.
- design points never enqueued (a launch killed while creating the study) are enqueued.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpsearch.campaign import Campaign
from hpsearch.errors import UserError
from hpsearch.launch import enqueue_design, resolve_concurrency
from hpsearch.locate import locate_campaign
from hpsearch.storage import open_storage
from hpsearch.study_view import is_interrupted


def open_campaign(target: str, read_only: bool = False) -> tuple[optuna.Study, Path]:
    """The study and campaign directory behind a directory, a .db file or a URL."""
    location = locate_campaign(target)
    url = location.url
    if read_only and location.db_path is not None:
        from hpsearch.locate import sqlite_url

        url = sqlite_url(location.db_path, read_only=True)
    storage = open_storage(url, read_only=read_only)
    summaries = optuna.get_all_study_summaries(storage, include_best_trial=False)
    if not summaries:
        raise UserError(f"{target} holds no campaign: launch one with 'hpsearch launch FILE'")
    if len(summaries) > 1:
        names = ", ".join(s.study_name for s in summaries)
        raise UserError(f"{target} holds several studies ({names}); give a campaign directory")
    study = optuna.load_study(study_name=summaries[0].study_name, storage=storage)
    if "campaign" not in study.user_attrs:
        raise UserError(f"{target} holds an Optuna study that is no hpsearch campaign")
    directory = location.directory or Path(study.user_attrs.get("directory", "."))
    return study, directory


def _result_of(directory: Path, trial: FrozenTrial) -> dict[str, Any] | None:
    path = Path(trial.user_attrs.get("trial_dir", directory / "trials" / str(trial.number)))
    try:
        result = json.loads((path / "result.json").read_text())
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) else None


def recover_orphans(study: optuna.Study, directory: Path, metric: str) -> dict[str, int]:
    """Record RUNNING trials from their result files, or as interrupted."""
    storage, counts = study._storage, {"recovered": 0, "interrupted": 0}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        result = _result_of(directory, trial) or {}
        value = result.get("objective")
        if value is None:
            value = (result.get("metrics") or {}).get(metric)
        for key in ("metrics", "wall_time_s", "peak_memory_mb", "hostname", "threads"):
            if key in result:
                storage.set_trial_user_attr(trial._trial_id, key, result[key])
        if (result.get("status") == "ok" and isinstance(value, int | float)
                and math.isfinite(value)):
            storage.set_trial_user_attr(trial._trial_id, "recovered", True)
            study.tell(trial.number, float(value))
            counts["recovered"] += 1
        elif result.get("status") == "pruned":
            study.tell(trial.number, state=TrialState.PRUNED)
            counts["recovered"] += 1
        elif result.get("status") == "failed":
            storage.set_trial_user_attr(trial._trial_id, "fail_reason",
                                        str(result.get("reason") or "failed"))
            study.tell(trial.number, state=TrialState.FAIL)
            counts["recovered"] += 1
        else:
            storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            storage.set_trial_user_attr(trial._trial_id, "fail_reason",
                                        "interrupted: the driver ended before the trial")
            study.tell(trial.number, state=TrialState.FAIL)
            counts["interrupted"] += 1
    return counts


def enqueue_retries(study: optuna.Study) -> int:
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    added = 0
    for trial in trials:
        if not is_interrupted(trial) or trial.number in retried:
            continue
        params = dict(trial.params) or dict(trial.system_attrs.get("fixed_params", {}))
        attrs: dict[str, Any] = {"source": "retry", "retry_of": trial.number}
        if "lhs_index" in trial.user_attrs:
            attrs["lhs_index"] = trial.user_attrs["lhs_index"]
        study.enqueue_trial(params, user_attrs=attrs)
        added += 1
    return added


def design_present(study: optuna.Study) -> set[int]:
    return {t.user_attrs["lhs_index"] for t in study.get_trials(deepcopy=False)
            if "lhs_index" in t.user_attrs}


def resume(target: str, display: Any = None) -> int:
    from hpsearch import leftovers
    from hpsearch.driver import drive
    from hpsearch.sites import Site

    study, directory = open_campaign(target)
    campaign = Campaign.from_dict(study.user_attrs["campaign"])
    site = Site.from_dict(study.user_attrs["site"])
    concurrency = resolve_concurrency(campaign, site)
    # Refuse a second driver before touching anything, and end a dead one's processes so
    # its trials cannot write result files while they are being recorded as interrupted.
    leftovers.claim(directory)
    counts = recover_orphans(study, directory, campaign.objective.metric)
    retries = enqueue_retries(study)
    design = enqueue_design(study, campaign, present=design_present(study))
    if display is not None:
        display.event(f"resuming {campaign.name}: {counts['recovered']} results recovered, "
                      f"{counts['interrupted']} interrupted trials, {retries} retries enqueued"
                      + (f", {design} design points enqueued" if design else ""))
    return drive(campaign, site, directory, study._storage, concurrency, display)
