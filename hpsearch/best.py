"""The best trials of a campaign; `hpsearch best` shows them as a table, CSV or JSON.

`ranked` is the one ranking of trials: the driver's summary, `hpsearch status`, `hpsearch
best` and the dashboard all use it.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

FORMATS = ("table", "csv", "json")


def ranked(trials: Iterable[FrozenTrial], direction: StudyDirection | str) -> list[FrozenTrial]:
    """The COMPLETE trials with a finite value, best first; ties go to the earlier trial."""
    minimize = direction in (StudyDirection.MINIMIZE, "minimize")
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.values
                and math.isfinite(t.values[0])]
    return sorted(complete, key=lambda t: ((t.values[0] if minimize else -t.values[0]),
                                           t.number))


def best_of(trials: Iterable[FrozenTrial], direction: StudyDirection | str) -> FrozenTrial | None:
    top = ranked(trials, direction)
    return top[0] if top else None


def top_trials(study: optuna.Study, n: int) -> list[FrozenTrial]:
    from hpsearch.study_summary import full_trials, ranked_rows, trial_rows

    # Ranked from a few columns of every trial; only the `n` shown are read in full.
    return full_trials(study, ranked_rows(trial_rows(study), study.direction)[:n])


def rows(trials: list[FrozenTrial], metric: str) -> list[dict[str, Any]]:
    out = []
    for rank, trial in enumerate(trials, 1):
        row: dict[str, Any] = {"rank": rank, "trial": trial.number, metric: trial.value,
                               "source": trial.user_attrs.get("source", "")}
        row.update(trial.params)
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
