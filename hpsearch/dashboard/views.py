"""The data behind each dashboard page, as JSON-ready dicts computed from one snapshot.

The web app serves these at /api/<view>; the report inlines the very same dicts, so both
show identical numbers.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from hpsearch.best import best_of, pareto
from hpsearch.dashboard.budget import time_left
from hpsearch.dashboard.campaign_reader import Snapshot
from workflows.trial_io import TrialPaths

STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
LOG_TAIL_LINES = 30
MAX_POINTS = 2000  # markers per plot; more makes the page slow and shows nothing new
MAX_SAMPLE = 1000  # trials drawn in the parallel-coordinate and (six or more) slice plots
_NO_REASON = "(no reason recorded)"


def finite(x: Any) -> Any:
    """JSON has no NaN or infinity: such values become null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def clean(obj: Any) -> Any:
    """A copy of ``obj`` that strict JSON accepts (non-finite floats -> null, keys -> str)."""
    if isinstance(obj, float):
        return finite(obj)
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    return str(obj)


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat(sep=" ", timespec="seconds") if dt else None


def objective(trial: FrozenTrial) -> float | None:
    if trial.state != TrialState.COMPLETE or not trial.values:
        return None
    return finite(trial.values[0])


def duration_s(trial: FrozenTrial, now: datetime) -> float | None:
    if trial.datetime_start is None:
        return None
    end = trial.datetime_complete or (now if trial.state == TrialState.RUNNING else None)
    return round((end - trial.datetime_start).total_seconds(), 3) if end else None


def node(trial: FrozenTrial) -> str | None:
    return trial.user_attrs.get("hostname")


def lane(trial: FrozenTrial) -> str:
    return str(trial.user_attrs.get("worker") or trial.user_attrs.get("hostname") or "unknown")


def fail_reason(trial: FrozenTrial) -> str:
    reason = trial.user_attrs.get("fail_reason")
    return str(reason).strip().splitlines()[0] if reason else _NO_REASON


def best_trial(snap: Snapshot) -> FrozenTrial | None:
    return best_of(snap.trials, snap.direction)


def overview(snap: Snapshot) -> dict[str, Any]:
    trials = snap.trials
    counts = Counter(t.state.name for t in trials)
    better = min if snap.direction == "minimize" else max

    by_number: dict[str, list[Any]] = {"number": [], "value": [], "best": []}
    done = [(t, value) for t in trials if (value := objective(t)) is not None]
    best = None
    for t, value in done:
        best = value if best is None else better(best, value)
        by_number["number"].append(t.number)
        by_number["value"].append(value)
        by_number["best"].append(best)

    by_time: dict[str, list[Any]] = {"time": [], "value": [], "best": [], "number": []}
    best = None
    for t, value in sorted(done, key=lambda pair: pair[0].datetime_complete or datetime.min):
        best = value if best is None else better(best, value)
        by_time["time"].append(iso(t.datetime_complete))
        by_time["value"].append(value)
        by_time["best"].append(best)
        by_time["number"].append(t.number)

    by_number = _thin_series(by_number)
    by_time = _thin_series(by_time)
    per_hour: dict[str, Counter[str]] = defaultdict(Counter)
    for t in trials:
        if t.datetime_complete is not None:
            hour = t.datetime_complete.replace(minute=0, second=0, microsecond=0)
            per_hour[iso(hour) or ""][t.state.name] += 1
    hours = sorted(per_hour)
    top = best_trial(snap)
    return {
        "study": snap.study_name,
        "campaign": campaign_name(snap),
        "direction": snap.direction,
        "version": snap.version,
        "taken_at": iso(snap.taken_at),
        "n_trials": len(trials),
        "counts": {s: counts.get(s, 0) for s in STATES},
        "running": counts.get("RUNNING", 0) + counts.get("WAITING", 0) > 0,
        "best": None if top is None else {
            "number": top.number,
            "value": objective(top),
            "params": clean(top.params),
        },
        "best_by_number": by_number,
        "best_by_time": by_time,
        "per_hour": {
            "hour": hours,
            **{s: [per_hour[h].get(s, 0) for h in hours] for s in ("COMPLETE", "PRUNED", "FAIL")},
        },
        "time_left": time_left(snap.study_user_attrs.get("campaign"), trials, snap.taken_at),
        "pareto": pareto_view(snap),
    }


def pareto_view(snap: Snapshot) -> dict[str, Any] | None:
    """With several objectives: the first two of every complete trial, and the front."""
    if len(snap.directions) < 2:
        return None
    goal = (snap.study_user_attrs.get("campaign") or {}).get("objective", {})
    names = goal.get("metric") if isinstance(goal.get("metric"), list) else None
    names = names or [f"objective {i}" for i in range(len(snap.directions))]
    done = [t for t in snap.trials if t.state == TrialState.COMPLETE and t.values
            and len(t.values) == len(snap.directions)]
    front = pareto(done, snap.directions)
    return {
        "metrics": names, "directions": list(snap.directions),
        "points": {"number": [t.number for t in done],
                   "x": [finite(t.values[0]) for t in done],
                   "y": [finite(t.values[1]) for t in done]},
        "front": {"number": [t.number for t in front],
                  "x": [t.values[0] for t in front], "y": [t.values[1] for t in front]},
    }


def _thin_series(series: dict[str, list[Any]]) -> dict[str, Any]:
    """At most MAX_POINTS points: every improvement of the best and an even sample of the rest.

    A browser draws a few thousand SVG markers quickly and ten thousand slowly; the best-so-far
    line stays exact because every point where it moves is kept.
    """
    n = len(series["best"])
    out: dict[str, Any] = dict(series)
    out["total"] = n
    if n <= MAX_POINTS:
        return out
    best = series["best"]
    keep = {0, n - 1} | {i for i in range(1, n) if best[i] != best[i - 1]}
    step = n / max(MAX_POINTS - len(keep), 1)
    keep |= {int(k * step) for k in range(int(n / step))}
    index = sorted(keep)
    for key, values in series.items():
        out[key] = [values[i] for i in index]
    return out


def plot_sample(trials: list[FrozenTrial], direction: str) -> list[FrozenTrial]:
    """Complete trials to draw: all of them up to MAX_SAMPLE, else the best tenth plus an even
    sample of the rest (importances are still computed from every trial)."""
    if len(trials) <= MAX_SAMPLE:
        return trials
    sign = 1.0 if direction == "minimize" else -1.0
    ranked = sorted(trials, key=lambda t: sign * (objective(t) or 0.0))
    top = ranked[: MAX_SAMPLE // 10]
    rest = ranked[len(top):]
    step = len(rest) / (MAX_SAMPLE - len(top))
    sample = top + [rest[int(k * step)] for k in range(MAX_SAMPLE - len(top))]
    return sorted(sample, key=lambda t: t.number)


def campaign_name(snap: Snapshot) -> str:
    campaign = snap.study_user_attrs.get("campaign")
    if isinstance(campaign, dict) and campaign.get("name"):
        return str(campaign["name"])
    return snap.study_name


TABLE_COLUMNS = ["number", "state", "value", "duration_s", "node", "worker", "source", "start",
                 "feasible"]


def table_names(snap: Snapshot) -> tuple[list[str], list[str]]:
    """Parameter and metric names over all trials: the table's extra columns."""
    params: dict[str, None] = {}
    metrics: dict[str, None] = {}
    for t in snap.trials:
        params.update(dict.fromkeys(t.params))
        m = t.user_attrs.get("metrics")
        if isinstance(m, dict):
            metrics.update(dict.fromkeys(m))
    return sorted(params), sorted(metrics)


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return finite(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def trial_row(t: FrozenTrial, param_names: list[str], metric_names: list[str],
              now: datetime) -> list[Any]:
    m = t.user_attrs.get("metrics")
    m = m if isinstance(m, dict) else {}
    return (
        [t.number, t.state.name, objective(t), duration_s(t, now), node(t),
         _cell(t.user_attrs.get("worker")), _cell(t.user_attrs.get("source")),
         iso(t.datetime_start), feasibility(t)]
        + [_cell(t.params.get(name)) for name in param_names]
        + [_cell(m.get(name)) for name in metric_names]
    )


def feasibility(t: FrozenTrial) -> str | None:
    """"yes" / "no" against the campaign's constraints; None when it has none."""
    feasible = t.user_attrs.get("feasible")
    return None if not isinstance(feasible, bool) else ("yes" if feasible else "no")


def trial_table(snap: Snapshot) -> dict[str, Any]:
    """Every trial as one row; the page sorts, filters and cuts to the top N itself."""
    param_names, metric_names = table_names(snap)
    return {
        "version": snap.version,
        "direction": snap.direction,
        "columns": TABLE_COLUMNS,
        "params": param_names,
        "metrics": metric_names,
        "rows": [trial_row(t, param_names, metric_names, snap.taken_at) for t in snap.trials],
    }


def trial_detail(snap: Snapshot, number: int) -> dict[str, Any] | None:
    trial = next((t for t in snap.trials if t.number == number), None)
    if trial is None:
        return None
    attrs = trial.user_attrs
    retries = [t.number for t in snap.trials if t.user_attrs.get("retry_of") == number]
    shown = {"metrics", "threads", "log_tail", "fail_reason", "hostname", "worker"}
    return clean({
        "version": snap.version,
        "number": trial.number,
        "state": trial.state.name,
        "value": objective(trial),
        "params": trial.params,
        "distributions": {k: _describe(d) for k, d in trial.distributions.items()},
        "intermediate": {
            "step": sorted(trial.intermediate_values),
            "value": [trial.intermediate_values[s] for s in sorted(trial.intermediate_values)],
        },
        "metrics": attrs.get("metrics") if isinstance(attrs.get("metrics"), dict) else {},
        "threads": attrs.get("threads") if isinstance(attrs.get("threads"), dict) else {},
        "hostname": attrs.get("hostname"),
        "worker": attrs.get("worker"),
        "start": iso(trial.datetime_start),
        "complete": iso(trial.datetime_complete),
        "duration_s": duration_s(trial, snap.taken_at),
        "fail_reason": attrs.get("fail_reason"),
        "log_tail": _log_tail(snap.directory, trial),
        "retries": retries,
        "attrs": {k: v for k, v in attrs.items() if k not in shown},
    })


def _describe(dist: Any) -> str:
    if isinstance(dist, FloatDistribution | IntDistribution):
        kind = "int" if isinstance(dist, IntDistribution) else "float"
        extra = ", log" if dist.log else (f", step {dist.step}" if dist.step else "")
        return f"{kind} [{dist.low}, {dist.high}]{extra}"
    if isinstance(dist, CategoricalDistribution):
        return "one of " + ", ".join(map(str, dist.choices))
    return type(dist).__name__


def _log_tail(directory: Path | None, trial: FrozenTrial) -> str | None:
    """The live log file while it exists (running trials), else the tail the driver stored."""
    if directory is not None:
        path = TrialPaths.of(directory, trial.number).log
        try:
            with path.open("rb") as f:
                f.seek(0, 2)
                f.seek(max(f.tell() - 64 * 1024, 0))
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-LOG_TAIL_LINES:])
        except OSError:
            pass
    tail = trial.user_attrs.get("log_tail")
    return str(tail) if tail else None


def importance(snap: Snapshot) -> dict[str, Any]:
    """PED-ANOVA importances plus the points behind the parallel-coordinate and slice plots."""
    complete = [t for t in snap.trials if objective(t) is not None]
    names = sorted(snap.param_distributions)
    result: dict[str, Any] = {"version": snap.version, "direction": snap.direction,
                              "importances": {}, "note": None}
    if len(complete) < 2 or not names:
        result["note"] = "importance needs at least two complete trials"
    else:
        study = optuna.create_study(
            directions=[optuna.study.StudyDirection[d.upper()] for d in snap.directions])
        # Optuna's evaluators take a study: an in-memory copy keeps the campaign untouched.
        study.add_trials(complete)
        try:
            with warnings.catch_warnings():
                # "few trials in a regime" warnings: the page says how many trials it used.
                warnings.simplefilter("ignore")
                values = optuna.importance.get_param_importances(study)
            result["importances"] = {k: finite(float(v)) for k, v in values.items()}
        except (ValueError, RuntimeError) as exc:
            result["note"] = f"importance not available: {exc}"
    result["total"] = len(complete)
    complete = plot_sample(complete, snap.direction)
    axes = []
    for name in names:
        dist = snap.param_distributions[name]
        axis: dict[str, Any] = {"name": name, "values": [], "log": False, "choices": None}
        if isinstance(dist, CategoricalDistribution):
            axis["choices"] = [str(c) for c in dist.choices]
        elif isinstance(dist, FloatDistribution | IntDistribution):
            axis["log"] = dist.log
        for t in complete:
            v = t.params.get(name)
            if axis["choices"] is not None:
                axis["values"].append(str(v) if name in t.params else None)
            else:
                axis["values"].append(finite(v))
        axes.append(axis)
    result["axes"] = axes
    result["number"] = [t.number for t in complete]
    result["value"] = [objective(t) for t in complete]
    return result


def timeline(snap: Snapshot) -> dict[str, Any]:
    """One lane per worker, one bar per trial, plus how many trials ran at each moment."""
    now = snap.taken_at
    bars: dict[str, dict[str, list[Any]]] = {
        s: {"lane": [], "start": [], "end": [], "number": []} for s in STATES
    }
    events: list[tuple[datetime, int]] = []
    lanes: set[str] = set()
    busy_s = 0.0
    first, last = None, None
    for t in snap.trials:
        if t.datetime_start is None:
            continue
        end = t.datetime_complete or now
        name = lane(t)
        lanes.add(name)
        b = bars[t.state.name]
        b["lane"].append(name)
        b["start"].append(iso(t.datetime_start))
        b["end"].append(iso(end))
        b["number"].append(t.number)
        events += [(t.datetime_start, 1), (end, -1)]
        busy_s += (end - t.datetime_start).total_seconds()
        first = t.datetime_start if first is None else min(first, t.datetime_start)
        last = end if last is None else max(last, end)
    events.sort()
    concurrency: dict[str, list[Any]] = {"time": [], "running": []}
    running = 0
    # Beyond MAX_POINTS changes, one point per time bin with the bin's peak: the drawn step
    # curve keeps its shape and the page stays fast.
    bin_s = (events[-1][0] - events[0][0]).total_seconds() / MAX_POINTS if events else 0.0
    use_bins = len(events) > MAX_POINTS and bin_s > 0
    current_bin, peak = None, 0
    for when, step in events:
        running += step
        if not use_bins:
            concurrency["time"].append(iso(when))
            concurrency["running"].append(running)
            continue
        index = int((when - events[0][0]).total_seconds() / bin_s)
        if index != current_bin:
            if current_bin is not None:
                concurrency["running"].append(peak)
            concurrency["time"].append(iso(when))
            current_bin, peak = index, running
        peak = max(peak, running)
    if use_bins and current_bin is not None:
        concurrency["running"].append(peak)
    span = (last - first).total_seconds() if first and last else 0.0
    return {
        "version": snap.version,
        "lanes": sorted(lanes),
        "bars": {s: b for s, b in bars.items() if b["number"]},
        "concurrency": concurrency,
        "utilisation": busy_s / (span * len(lanes)) if span > 0 and lanes else None,
    }


def failures(snap: Snapshot) -> dict[str, Any]:
    """Failed trials grouped by their one-line reason, most frequent first."""
    groups: dict[str, list[FrozenTrial]] = defaultdict(list)
    for t in snap.trials:
        if t.state == TrialState.FAIL:
            groups[fail_reason(t)].append(t)
    retried_as = {t.user_attrs["retry_of"]: t.number for t in snap.trials
                  if isinstance(t.user_attrs.get("retry_of"), int)}
    out = []
    for reason, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        out.append({
            "reason": reason,
            "count": len(members),
            "trials": [t.number for t in members],
            "retried": [[t.number, retried_as[t.number]] for t in members
                        if t.number in retried_as],
            "nodes": sorted({node(t) or "unknown" for t in members}),
            "first": iso(min((t.datetime_start for t in members if t.datetime_start),
                             default=None)),
            "last": iso(max((t.datetime_complete for t in members if t.datetime_complete),
                            default=None)),
        })
    return {"version": snap.version, "total": sum(g["count"] for g in out), "groups": out}
