"""How much of the campaign's budget (trials and wall-clock) is left, and when it runs out.

The budget is read from study.user_attrs["campaign"]["budget"]: ``trials`` (finished trials
that count, as the driver counts them) and ``wall_time`` ("HH:MM:SS", per run of the driver;
"90m", "2h30m" or seconds as ``wall_time_s`` are read too). A campaign without a budget
shows none.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from hpsearch.study_view import is_interrupted, uses_budget

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration_s(value: Any) -> float | None:
    """Seconds from a number of seconds, "HH:MM:SS", "MM:SS" or "1d2h30m10s"; None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if re.fullmatch(r"\d+(:\d{1,2}){1,2}", text):
        seconds = 0.0
        for part in text.split(":"):
            seconds = seconds * 60 + int(part)
        return seconds or None
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([dhms])", text)
    if parts and re.fullmatch(r"(\s*\d+(?:\.\d+)?\s*[dhms])+\s*", text):
        return sum(float(n) * _UNIT_S[u] for n, u in parts) or None
    try:
        return float(text) or None
    except ValueError:
        return None


def _budget(campaign: Any) -> tuple[int | None, float | None]:
    if not isinstance(campaign, dict):
        return None, None
    budget = campaign.get("budget")
    table = budget if isinstance(budget, dict) else campaign
    trials = table.get("trials", table.get("n_trials"))
    n_trials = trials if isinstance(trials, int) and not isinstance(trials, bool) else None
    wall = None
    if "wall_time_s" in table:
        wall = parse_duration_s(table["wall_time_s"])
    elif "hours" in table:
        hours = parse_duration_s(table["hours"])
        wall = hours * 3600 if hours else None
    elif "wall_time" in table:
        wall = parse_duration_s(table["wall_time"])
    return n_trials, wall


def _run_start(campaign: Any, trials: tuple[FrozenTrial, ...]) -> datetime | None:
    """When the driver's current run (launch or resume) began.

    budget.wall_time bounds each run. A run that ends marks its trials in flight as
    interrupted, so the current run began with the first trial started after the last
    interruption (or with the campaign's ``started_at`` when the campaign records it).
    """
    if isinstance(campaign, dict) and isinstance(campaign.get("started_at"), str):
        try:
            return datetime.fromisoformat(campaign["started_at"]).replace(tzinfo=None)
        except ValueError:
            pass
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
    start = _run_start(campaign, trials)
    elapsed = (now - start).total_seconds() if start else None

    # Rate over the last hour when there is one, else over this run: a campaign speeds up
    # once its allocation starts and that is the pace the end depends on.
    in_run = [t for t in finished if start is not None and t.datetime_complete >= start]
    recent = [t for t in in_run if t.datetime_complete >= now - timedelta(hours=1)]
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
        ends = [t.datetime_complete for t in finished]
        span = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
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
