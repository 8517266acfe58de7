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

from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hpsearch import half_created
from hpsearch._optuna_internals import constraint_attr
from hpsearch.campaign import Campaign
from hpsearch.campaign_setup import enqueue_design, resolve_concurrency
from hpsearch.constraints import Constraint, by_name, evaluate
from hpsearch.errors import UserError
from hpsearch.file_modes import make_private
from hpsearch.locate import DB_FILENAME
from hpsearch.storage import open_campaign
from hpsearch.study_view import is_interrupted
from hpsearch.trial_sync import read_trials
from hpsearch.warm_start import SKIPPED_ATTR
from workflows.trial_io import STATUS_FAILED, STATUS_OK, STATUS_PRUNED, TrialPaths, read_result


def recover_orphans(study: optuna.Study, directory: Path, metric: str,
                    constraints: tuple[Constraint, ...] = ()) -> dict[str, int]:
    """Record RUNNING trials from their result files, or as interrupted."""
    storage, counts = study._storage, {"recovered": 0, "interrupted": 0}
    for trial in [t for t in _all_trials(study) if t.state == TrialState.RUNNING]:
        recorded_dir = trial.user_attrs.get("trial_dir")
        paths = (TrialPaths(Path(recorded_dir)) if recorded_dir
                 else TrialPaths.of(directory, trial.number))
        result = read_result(paths.result)
        if result is not None:
            result = result.settle(metric)
            attrs = dict(result.recorded)
            if result.hostname is not None:
                attrs["hostname"] = result.hostname
            if constraints:
                attrs.update(evaluate(constraints, attrs))
                for name, value in by_name(constraints, attrs).items():
                    storage.set_trial_system_attr(trial._trial_id, constraint_attr(name), value)
            for key, value in attrs.items():
                storage.set_trial_user_attr(trial._trial_id, key, value)
        if result is None:
            storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            storage.set_trial_user_attr(trial._trial_id, "fail_reason",
                                        "interrupted: the driver ended before the trial")
            study.tell(trial.number, state=TrialState.FAIL)
            counts["interrupted"] += 1
            continue
        if result.status == STATUS_OK:
            storage.set_trial_user_attr(trial._trial_id, "recovered", True)
            study.tell(trial.number, result.objective)
        elif result.status == STATUS_PRUNED:
            study.tell(trial.number, state=TrialState.PRUNED)
        else:
            storage.set_trial_user_attr(trial._trial_id, "fail_reason",
                                        result.reason or STATUS_FAILED)
            study.tell(trial.number, state=TrialState.FAIL)
        counts["recovered"] += 1
    return counts


def enqueue_retries(study: optuna.Study) -> int:
    trials = _all_trials(study)
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
    """Design points enqueued already, or left out because warm-start priors cover them."""
    return {t.user_attrs["lhs_index"] for t in _all_trials(study)
            if "lhs_index" in t.user_attrs} | set(study.user_attrs.get(SKIPPED_ATTR, []))


def _all_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    # One query per table: Optuna's own read of a 20,000-trial study takes ~10x longer.
    return read_trials(study._storage, study._study_id)


def prepare_resume(study: optuna.Study, campaign: Campaign,
                   directory: Path) -> tuple[dict[str, int], int, int]:
    """Orphans recorded, retries and missing design points enqueued: what was done."""
    counts = recover_orphans(study, directory, campaign.objective.metric, campaign.constraints)
    retries = enqueue_retries(study)
    design = enqueue_design(study, campaign, present=design_present(study))
    return counts, retries, design


def _refuse_unrecorded(target: str) -> None:
    """A directory a killed launch left without its campaign holds nothing to resume: it is
    removed, and the way on is to launch again."""
    path = Path(target).expanduser()
    directory = path.parent if path.name == DB_FILENAME and path.is_file() else path
    missing = half_created.unrecorded(directory)
    if missing is None:
        return
    lines: list[str] = []
    half_created.remove(directory, missing, lines.append)
    raise UserError(f"{lines[0]}; launch it again: hpsearch launch CAMPAIGN.toml --dir "
                    f"{directory}")


def resume(target: str, display: Any = None, trials: int | None = None,
           wall_time: str | None = None, site_name: str | None = None,
           overrides: dict[str, Any] | None = None) -> int:
    """Continue the campaign at `target`, with a new budget or site when given."""
    from hpsearch import leftovers
    from hpsearch.driver import drive
    from hpsearch.extend import plan_changes, record_changes
    from hpsearch.launch import hpsearch_version
    from hpsearch.sites import Site

    make_private()
    _refuse_unrecorded(target)
    study, directory = open_campaign(target)
    campaign = Campaign.from_dict(study.user_attrs["campaign"])
    filled = half_created.repair_attributes(study, campaign, directory, hpsearch_version())
    if filled and display is not None:
        display.event(f"repaired {directory}: a campaign half-created by a killed launch; "
                      f"filled in its {', '.join(filled)} (the design is completed below)")
    site = Site.from_dict(study.user_attrs["site"])
    changes = plan_changes(study, campaign, site, trials, wall_time, site_name, overrides)
    campaign, site = changes.campaign, changes.site
    concurrency = resolve_concurrency(campaign, site)
    # Refuse a second driver before touching anything, and end a dead one's processes so
    # its trials cannot write result files while they are being recorded as interrupted.
    leftovers.claim(directory)
    record_changes(study, changes)
    counts, retries, design = prepare_resume(study, campaign, directory)
    if display is not None:
        display.event(f"resuming {campaign.name}: {counts['recovered']} results recovered, "
                      f"{counts['interrupted']} interrupted trials, {retries} retries enqueued"
                      + (f", {design} design points enqueued" if design else ""))
    return drive(campaign, site, directory, study._storage, concurrency, display)
