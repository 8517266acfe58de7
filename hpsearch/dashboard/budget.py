"""How much of the campaign's budget (trials and wall-clock) is left, and when it runs out.

The budget is read from study.user_attrs["campaign"]["budget"], as `Campaign.to_dict` writes
it: ``trials`` (finished trials that count, as the driver counts them) and ``wall_time``
("HH:MM:SS", per run of the driver). A campaign without a budget shows none.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from hpsearch.study_view import is_interrupted, uses_budget
from hpsearch.wall_time import parse_wall_time

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def _budget(campaign: Any) -> tuple[int | None, float | None]:
    budget = campaign.get("budget") if isinstance(campaign, dict) else None
    if not isinstance(budget, dict):
        return None, None
    trials = budget.get("trials")
    n_trials = trials if isinstance(trials, int) and not isinstance(trials, bool) else None
    try:
        wall = float(parse_wall_time(budget["wall_time"])) if "wall_time" in budget else None
    except ValueError:
        wall = None  # not written by this version: shown as no wall-clock budget
    return n_trials, wall


def _run_start(trials: tuple[FrozenTrial, ...]) -> datetime | None:
    """When the driver's current run (launch or resume) began.

    budget.wall_time bounds each run. A run that ends marks its trials in flight as
    interrupted, so the current run began with the first trial started after the last
    interruption.
    """
    ends = [t.datetime_complete for t in trials
            if is_interrupted(t) and t.datetime_complete is not None]
    last_end = max(ends) if ends else None
    starts = [t.datetime_start for t in trials if t.datetime_start is not None
              and (last_end is None or t.datetime_start >= last_end)]
    return min(starts) if starts else None


def time_left(
    campaign: Any, trials: tuple[FrozenTrial, ...], now: datetime
) -> dict[str, float | int | None]:
    """Trials left, wall-clock left and the expected end at the recent completion rate."""
    n_budget, wall_s = _budget(campaign)
    finished = [t for t in trials if t.state in _FINISHED and t.datetime_complete is not None]
    # The driver's own rule: interrupted trials are retried and do not use up the budget.
    counted = [t for t in finished if uses_budget(t)]
    start = _run_start(trials)
    elapsed = (now - start).total_seconds() if start else None

    # Rate over the last hour when there is one, else over this run: a campaign speeds up
    # once its allocation starts and that is the pace the end depends on.
    ends = {t.number: t.datetime_complete for t in finished if t.datetime_complete is not None}
    in_run = [t for t in finished if start is not None and ends[t.number] >= start]
    recent = [t for t in in_run if ends[t.number] >= now - timedelta(hours=1)]
    rate = None
    if len(recent) >= 2 and elapsed and elapsed > 3600:
        rate = len(recent) / 3600.0
    elif in_run and elapsed and elapsed > 0:
        rate = len(in_run) / elapsed
    trials_left = max(n_budget - len(counted), 0) if n_budget is not None else None
    eta_trials = trials_left / rate if trials_left is not None and rate else None
    wall_left = max(wall_s - elapsed, 0.0) if wall_s is not None and elapsed is not None else None
    if not any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials):
        # Between runs no clock is ticking: the pace shown is the whole campaign's.
        eta_trials = wall_left = None
        starts = [t.datetime_start for t in finished if t.datetime_start is not None]
        span = ((max(ends.values()) - min(starts)).total_seconds() if starts and ends
                else 0.0)
        elapsed = span or None
        rate = len(finished) / span if span > 0 else None
    candidates = [x for x in (eta_trials, wall_left) if x is not None]
    return {
        "trials_budget": n_budget,
        "trials_done": len(counted),
        "trials_left": trials_left,
        "wall_budget_s": wall_s,
        "elapsed_s": elapsed,
        "wall_left_s": wall_left,
        "rate_per_hour": rate * 3600 if rate else None,
        "eta_trials_s": eta_trials,
        "time_left_s": min(candidates) if candidates else None,
    }
