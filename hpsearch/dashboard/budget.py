"""How much of the campaign's budget (trials and wall-clock) is left, and when it runs out.

The budget is read from study.user_attrs["campaign"]["budget"]: ``trials`` (a count) and a
wall-clock limit given as seconds (``wall_time_s``), hours (``hours``) or a duration string
(``wall_time``: "12:00:00", "90m", "2h30m"). A campaign without a budget simply shows none.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from optuna.trial import FrozenTrial, TrialState

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


def _start(campaign: Any, trials: tuple[FrozenTrial, ...]) -> datetime | None:
    if isinstance(campaign, dict) and isinstance(campaign.get("started_at"), str):
        try:
            return datetime.fromisoformat(campaign["started_at"]).replace(tzinfo=None)
        except ValueError:
            pass
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    return min(starts) if starts else None


def time_left(
    campaign: Any, trials: tuple[FrozenTrial, ...], now: datetime
) -> dict[str, float | int | None]:
    """Trials left, wall-clock left and the expected end at the recent completion rate."""
    n_budget, wall_s = _budget(campaign)
    finished = [t for t in trials if t.state in _FINISHED and t.datetime_complete is not None]
    # Retries re-run a trial that infrastructure lost: they do not use up the trial budget.
    counted = [t for t in finished if t.user_attrs.get("source") != "retry"]
    start = _start(campaign, trials)
    elapsed = (now - start).total_seconds() if start else None

    # Rate over the last hour when there is one, else over the whole run: a campaign speeds
    # up once its allocation starts and that is the pace the end depends on.
    recent = [t for t in finished if t.datetime_complete >= now - timedelta(hours=1)]
    rate = None
    if len(recent) >= 2 and elapsed and elapsed > 3600:
        rate = len(recent) / 3600.0
    elif finished and elapsed and elapsed > 0:
        rate = len(finished) / elapsed

    trials_left = max(n_budget - len(counted), 0) if n_budget is not None else None
    eta_trials = trials_left / rate if trials_left is not None and rate else None
    wall_left = max(wall_s - elapsed, 0.0) if wall_s is not None and elapsed is not None else None
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
