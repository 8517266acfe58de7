"""Several objectives: a multi-objective study, the Pareto front in best and status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from optuna.study import StudyDirection
from optuna.trial import TrialState
from spine_helpers import cli, load

import hpsearch
from hpsearch.cli import main

TWO = '''
import math

def branin_and_cost(params):
    x, y = params["x"], params["y"]
    value = (y - 5.1 / (4 * math.pi ** 2) * x ** 2 + 5 / math.pi * x - 6) ** 2 \\
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10
    return {"objective": value, "cost": abs(x) + y}   # the cheap corner is not the best one
'''

CAMPAIGN = """
name = "two"
seed = 4
n_init = 4
concurrency = 2
pruner = "median"
[objective]
entrypoint = "two:branin_and_cost"
metric = ["objective", "cost"]
direction = ["minimize", "minimize"]
[search_space]
x = { type = "float", low = -5.0, high = 10.0 }
y = { type = "float", low = 0.0, high = 15.0 }
[budget]
trials = 10
"""


@pytest.mark.parametrize("old,new,expected", [
    ('direction = ["minimize", "minimize"]', 'direction = ["minimize"]',
     "objective.direction: 1 directions for 2 metrics"),
    ('metric = ["objective", "cost"]', 'metric = ["cost", "cost"]', "names a metric twice"),
    ('direction = ["minimize", "minimize"]', 'direction = ["minimize", "up"]',
     "objective.direction: must be"),
])
def test_bad_objectives_are_one_line(tmp_path: Path, capsys, old: str, new: str,
                                     expected: str) -> None:
    path = tmp_path / "two.toml"
    path.write_text(CAMPAIGN.replace(old, new))
    assert main(["launch", str(path), "--dir", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_one_direction_serves_every_metric() -> None:
    table = {"objective": {"entrypoint": "two:f", "metric": ["a", "b"]},
             "search_space": {"x": [1, 2]}, "budget": {"trials": 2}}
    spec = hpsearch.Campaign.from_dict(table).spec
    assert spec.objective.directions == ("minimize", "minimize")
    assert spec.objective.to_dict()["metric"] == ["a", "b"]


@pytest.mark.slow
def test_a_two_objective_campaign_shows_its_pareto_front(tmp_path: Path) -> None:
    (tmp_path / "two.py").write_text(TWO)
    (tmp_path / "two.toml").write_text(CAMPAIGN)
    done = cli("launch", str(tmp_path / "two.toml"), "--dir", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr
    assert "Optuna cannot prune a multi-objective study; pruning is off" in done.stderr
    study = load(tmp_path / "c")
    assert study.directions == [StudyDirection.MINIMIZE, StudyDirection.MINIMIZE]
    trials = study.get_trials()
    assert len(trials) == 10 and all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        x, y = t.params["x"], t.params["y"]
        assert t.values[1] == pytest.approx(abs(x) + y)

    front = {t.number for t in study.best_trials}
    best = cli("best", str(tmp_path / "c"), "--format", "json")
    rows = json.loads(best.stdout)
    assert {row["trial"] for row in rows} == front
    assert [row["objective"] for row in rows] == sorted(row["objective"] for row in rows)
    assert all({"objective", "cost", "x", "y"} <= set(row) for row in rows)
    table = cli("best", str(tmp_path / "c"))
    assert f"Pareto front (minimize objective, minimize cost): {len(front)} trials" in table.stderr
    # Nothing on the front is beaten in both objectives by any trial.
    for row in rows:
        assert not any(t.values[0] < row["objective"] and t.values[1] < row["cost"]
                       for t in trials)

    status = cli("status", str(tmp_path / "c"))
    assert "minimize objective, minimize cost" in status.stdout
    assert f"pareto front: {len(front)} trials" in status.stdout
    api_rows = hpsearch.open(tmp_path / "c").best(top=50)
    assert [r["trial"] for r in api_rows] == [r["trial"] for r in rows]
