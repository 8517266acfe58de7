"""The best trials of a campaign; `hpsearch best` shows them as a table, CSV or JSON.

`ranked` is the one ranking of trials: the driver's summary, `hpsearch status`, `hpsearch
best` and the dashboard all use it.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpsearch.constraints import is_infeasible

if TYPE_CHECKING:
    from hpsearch.study_summary import TrialRow

FORMATS = ("table", "csv", "json")


def ranked(trials: Iterable[FrozenTrial], direction: StudyDirection | str) -> list[FrozenTrial]:
    """The COMPLETE trials with a finite value, best first; ties go to the earlier trial.
    Trials that break the campaign's constraints come after every feasible one."""
    minimize = direction in (StudyDirection.MINIMIZE, "minimize")
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.values
                and math.isfinite(t.values[0])]
    return sorted(complete, key=lambda t: (is_infeasible(t),
                                           (t.values[0] if minimize else -t.values[0]),
                                           t.number))


def best_of(trials: Iterable[FrozenTrial], direction: StudyDirection | str) -> FrozenTrial | None:
    top = ranked(trials, direction)
    return top[0] if top else None


def top_trials(study: optuna.Study, n: int) -> list[FrozenTrial]:
    """The best `n` trials; with several objectives, the Pareto front by the first one."""
    from hpsearch.study_summary import full_trials, ranked_rows, trial_rows

    if len(study.directions) > 1:
        # The front compares every objective of every trial: read in full.
        return pareto_front(study)[:n]
    # Ranked from a few columns of every trial; only the `n` shown are read in full.
    return full_trials(study, ranked_rows(trial_rows(study), study.direction)[:n])


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """The trials no other trial beats in every objective, ordered by the first objective."""
    return pareto(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
                  study.directions)


def pareto(trials: Iterable[FrozenTrial],
           directions: Sequence[StudyDirection | str]) -> list[FrozenTrial]:
    """The COMPLETE trials with finite values that no other trial dominates (at least as good
    in every objective, better in one), best first by the first objective.

    In lexicographic order of the (minimised) values a trial can only be dominated by one
    before it, so one pass that compares each trial with the front so far is enough.
    """
    sign = [1.0 if d in (StudyDirection.MINIMIZE, "minimize") else -1.0 for d in directions]

    def key(t: FrozenTrial) -> tuple[float, ...]:
        return tuple(s * v for s, v in zip(sign, t.values, strict=True))

    candidates = sorted((t for t in trials if t.state == TrialState.COMPLETE and t.values
                         and len(t.values) == len(sign)
                         and all(math.isfinite(v) for v in t.values)),
                        key=lambda t: (key(t), t.number))
    front: list[tuple[tuple[float, ...], FrozenTrial]] = []
    for trial in candidates:
        mine = key(trial)
        if not any(all(a <= b for a, b in zip(other, mine, strict=True)) and other != mine
                   for other, _ in front):
            front.append((mine, trial))
    return [trial for _, trial in front]


def rows(trials: list[FrozenTrial], metric: str | list[str]) -> list[dict[str, Any]]:
    """One row per trial; `metric` names its value, or a list names each of several."""
    names = metric if isinstance(metric, list) else [metric]
    out = []
    for rank, trial in enumerate(trials, 1):
        row: dict[str, Any] = {"rank": rank, "trial": trial.number}
        row.update(zip(names, trial.values or [None] * len(names), strict=True))
        row["source"] = trial.user_attrs.get("source", "")
        row.update(trial.params)
        if "feasible" in trial.user_attrs:
            row["feasible"] = "yes" if trial.user_attrs["feasible"] else "NO"
        wall = trial.user_attrs.get("wall_time_s")
        row["wall_time_s"] = round(float(wall), 3) if wall is not None else None
        out.append(row)
    return out


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def render(table: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(table, indent=2)
    columns: list[str] = []
    for row in table:
        columns.extend(key for key in row if key not in columns)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
        return buffer.getvalue().rstrip("\n")
    cells = [[_cell(row.get(c)) for c in columns] for row in table]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def shortfall_note(trials: Iterable[FrozenTrial] | Iterable[TrialRow], shown: int,
                   asked: int) -> str | None:
    """Why fewer than `asked` rows are shown: what the other trials are (None if not short)."""
    if shown >= asked:
        return None
    counts: dict[str, int] = {}
    for trial in trials:
        if trial.state != TrialState.COMPLETE:
            name = "failed" if trial.state == TrialState.FAIL else trial.state.name.lower()
            counts[name] = counts.get(name, 0) + 1
    others = ", ".join(f"{n} {name}" for name, n in counts.items()) or "no other trials"
    return f"only {shown} completed trial{'s' if shown != 1 else ''} to show ({others})"
