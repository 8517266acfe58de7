"""`hpsearch status`: where a campaign stands, read from its database only."""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

import optuna
from optuna.trial import TrialState

from hpsearch.best import pareto_front
from hpsearch.campaign import Campaign
from hpsearch.progress_line import format_duration
from hpsearch.study_summary import full_trials, ranked_rows, trial_rows


def summarize(study: optuna.Study, now: datetime.datetime | None = None) -> dict[str, Any]:
    campaign = Campaign.from_dict(study.user_attrs["campaign"])
    rows = trial_rows(study)  # the few columns needed; full trials only of those shown
    now = now or datetime.datetime.now()
    counts: Counter[str] = Counter(r.category for r in rows)
    used = sum(1 for r in rows if r.uses_budget)
    finished = [r for r in rows if r.uses_budget and r.datetime_complete is not None]
    rate = None
    if len(finished) >= 2:
        first = min(r.datetime_start or r.datetime_complete for r in finished)  # type: ignore[type-var]
        last = max(r.datetime_complete for r in finished)  # type: ignore[type-var]
        hours = (last - first).total_seconds() / 3600.0  # type: ignore[operator]
        rate = len(finished) / hours if hours > 0 else None
    remaining = None if campaign.budget.trials is None else max(0, campaign.budget.trials - used)
    eta_s = remaining / rate * 3600.0 if (rate and remaining is not None) else None
    several = len(study.directions) > 1
    # The Pareto front compares every objective of every trial: read in full (several only).
    front = pareto_front(study) if several else None
    top = [] if several else ranked_rows(rows, study.direction)[:1]
    shown = full_trials(study, top + [r for r in rows if r.state == TrialState.RUNNING])
    best = shown[0] if top else None
    running = [
        {"trial": t.number, "elapsed_s": (now - t.datetime_start).total_seconds()
         if t.datetime_start else None, "source": t.user_attrs.get("source", ""),
         "params": t.params}
        for t in shown[len(top):]
    ]
    retried = [{"trial": r.number, "retries": list(r.retries)} for r in rows if r.retries]
    return {
        "retried": retried,
        "name": campaign.name, "objective": campaign.objective.to_dict(),
        "counts": dict(counts), "budget_used": used, "budget": campaign.budget.to_dict(),
        "running": running, "best": None if best is None else
        {"trial": best.number, "value": best.value, "params": best.params},
        "pareto_front": None if front is None else
        [{"trial": t.number, "values": t.values, "params": t.params} for t in front],
        "trials_per_hour": rate, "eta_s": eta_s,
        "constraints": [str(c) for c in campaign.constraints],
        "infeasible": sum(1 for r in rows if r.infeasible),
    }


def render(summary: dict[str, Any]) -> str:
    counts = summary["counts"]
    budget = summary["budget"]
    goal = summary["objective"]
    metrics = goal["metric"] if isinstance(goal["metric"], list) else [goal["metric"]]
    directions = (goal["direction"] if isinstance(goal["direction"], list)
                  else [goal["direction"]] * len(metrics))
    lines = [f"campaign {summary['name']}: " + ", ".join(
        f"{d} {m}" for m, d in zip(metrics, directions, strict=True))]
    total = budget.get("trials")
    lines.append(f"budget: {summary['budget_used']}" + (f"/{total}" if total else "")
                 + " trials used" + (f", wall time {budget['wall_time']} per run"
                                     if "wall_time" in budget else ""))
    order = ("complete", "pruned", "fail", "interrupted", "running", "waiting")
    lines.append("trials: " + ", ".join(f"{name} {counts.get(name, 0)}" for name in order)
                 + (f"; {counts['prior']} prior trials from a warm start"
                    if counts.get("prior") else "")
                 + (f"; {summary['infeasible']} break the constraints "
                    f"({', '.join(summary['constraints'])})" if summary.get("infeasible") else ""))
    best = summary["best"]
    front = summary.get("pareto_front")
    if front is not None:
        lines.append(f"pareto front: {len(front)} trials" + "".join(
            f"\n  trial {t['trial']}: " + ", ".join(
                f"{m}={_short(v)}" for m, v in zip(metrics, t["values"], strict=True))
            for t in front[:10]) + ("\n  ..." if len(front) > 10 else ""))
    elif best is not None:
        params = ", ".join(f"{k}={_short(v)}" for k, v in best["params"].items())
        lines.append(f"best: trial {best['trial']} = {best['value']:.6g} ({params})")
    else:
        lines.append("best: no completed trial yet")
    rate = summary["trials_per_hour"]
    lines.append(f"throughput: {rate:.1f} trials/hour, eta {format_duration(summary['eta_s'])}"
                 if rate else "throughput: not enough finished trials yet")
    for item in summary.get("retried", []):
        last = item["retries"][-1]
        where = f" on {last['host']}" if last.get("host") else ""
        lines.append(f"  trial {item['trial']} retried {len(item['retries'])}x by the "
                     f"infrastructure{where}: {last.get('reason', '')[:120]}")
    for item in summary["running"]:
        lines.append(f"  running trial {item['trial']} ({item['source']}) for "
                     f"{format_duration(item['elapsed_s'])}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
