"""Conditional parameters (`when`) and constraints on reported metrics."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from spine_helpers import cli, load

import hpsearch
from hpsearch._optuna_internals import CONSTRAINTS_KEY
from hpsearch.best import ranked
from hpsearch.cli import main
from hpsearch.constraints import by_name, evaluate, parse_constraints
from hpsearch.lhs import latin_hypercube
from hpsearch.samplers import make_sampler
from hpsearch.space import SearchSpace
from hpsearch.study_view import StudyView

SPACE = {
    "optimizer": ["adam", "sgd"],
    "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "momentum": {"type": "float", "low": 0.5, "high": 0.99, "when": {"optimizer": "sgd"}},
    "nesterov": {"type": "categorical", "choices": [True, False],
                 "when": {"optimizer": ["sgd"]}},
}


def test_conditions_round_trip_and_mistakes_name_the_field() -> None:
    space = SearchSpace.from_mapping(SPACE)
    assert space.conditional and SearchSpace.from_mapping(space.to_dict()) == space
    assert space.active({"optimizer": "adam", "lr": 0.01, "momentum": 0.9}) == {
        "optimizer": "adam", "lr": 0.01}
    for entry, expected in [
        ({"when": {"opt": "sgd"}}, "search_space.momentum.when.opt: no categorical parameter"),
        ({"when": {"lr": 0.1}}, "search_space.momentum.when.lr: 'lr' is not categorical"),
        ({"when": {"optimizer": "lion"}}, "'lion' is not one of optimizer's choices"),
        ({"when": "sgd"}, "search_space.momentum.when: must be a table"),
    ]:
        table = dict(SPACE, momentum={"type": "float", "low": 0.5, "high": 0.99, **entry})
        with pytest.raises(hpsearch.UserError, match=expected):
            SearchSpace.from_mapping(table)


def test_the_design_leaves_inactive_parameters_out() -> None:
    space = SearchSpace.from_mapping(SPACE)
    points = latin_hypercube(space, 8, seed=1)
    assert {p["optimizer"] for p in points} == {"adam", "sgd"}
    for point in points:
        assert ("momentum" in point) == ("nesterov" in point) == (point["optimizer"] == "sgd")


@pytest.mark.parametrize("kind", ["tpe", "gp"])
def test_samplers_propose_only_active_parameters(kind: str) -> None:
    space = SearchSpace.from_mapping(SPACE)
    study = optuna.create_study(study_name="c")
    view = StudyView(study._storage, "c", make_sampler(kind, 0, 4, group=True))
    for _ in range(6):
        for asked in view.ask(2, space.distributions(), conditional=space.suggest):
            params = asked.params
            assert set(params) == set(space.active(params))
            assert ("momentum" in params) == (params["optimizer"] == "sgd")
            value = params["lr"] * (10.0 if params["optimizer"] == "adam" else 1.0)
            view.finish(asked.number, TrialState.COMPLETE, value)
    view.flush()  # the driver writes the changed trials once per turn of its loop
    stored = study.get_trials()
    assert len(stored) == 12 and {t.params["optimizer"] for t in stored} == {"adam", "sgd"}
    assert all(set(t.distributions) == set(t.params) for t in stored)


def test_constraints_parse_evaluate_and_reach_the_sampler() -> None:
    (memory, steps) = parse_constraints(["peak_memory_mb <= 8000", "accuracy >= 0.5"])
    assert str(memory) == "peak_memory_mb <= 8000"
    attrs = {"peak_memory_mb": 9000.0, "metrics": {"accuracy": 0.7}}
    assert evaluate([memory, steps], attrs) == {"constraints": [1000.0, -0.19999999999999996],
                                                "feasible": False}
    assert evaluate([steps], {"metrics": {}}) == {"constraints": [1.0], "feasible": False}
    for bad in (["memory < 8"], ["x <= big"], "x <= 1"):
        with pytest.raises(hpsearch.UserError, match="constraints"):
            parse_constraints(bad)
    # Recorded as Trial.set_constraint does, in memory and in the storage (for a resume).
    study = optuna.create_study(study_name="c")
    view = StudyView(study._storage, "c", make_sampler("tpe", 0, 1))
    x = optuna.distributions.FloatDistribution(0, 1)
    [asked] = view.ask(1, {"x": x})
    view.finish(asked.number, TrialState.COMPLETE, 0.5, {"feasible": False},
                constraints={"peak_memory_mb <= 8000": 3.0})
    view.flush()
    assert study.get_trials()[0].constraints == {"peak_memory_mb <= 8000": 3.0}
    assert view.trial(asked.number).constraints == {"peak_memory_mb <= 8000": 3.0}
    from optuna.study._constrained_optimization import _CONSTRAINTS_KEY
    assert _CONSTRAINTS_KEY == CONSTRAINTS_KEY


def _late_median(kind: str, constrained: bool) -> float:
    """Minimise x on [0, 1] subject to x >= 0.6: the median x of the last 10 asked."""
    study = optuna.create_study(study_name="c")
    view = StudyView(study._storage, "c", make_sampler(kind, 1, 6))
    (limit,) = parse_constraints(["x >= 0.6"])
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for _ in range(26):
        [asked] = view.ask(1, dist)
        attrs = {"metrics": {"x": asked.params["x"]}}
        view.finish(asked.number, TrialState.COMPLETE, asked.params["x"],
                    evaluate([limit], attrs), by_name([limit], attrs) if constrained else None)
    view.flush()
    return statistics.median(t.params["x"] for t in study.get_trials()[-10:])


@pytest.mark.slow  # GP's fits take a while on a shared machine
@pytest.mark.parametrize("kind", ["tpe", "gp"])
def test_samplers_steer_away_from_the_infeasible_region(kind: str) -> None:
    # Unconstrained they head for 0; constrained, for the boundary (GP sits on it).
    assert _late_median(kind, constrained=False) < 0.3
    assert _late_median(kind, constrained=True) > 0.55


def test_a_bad_constraint_is_one_line_at_launch(tmp_path: Path, capsys) -> None:
    path = tmp_path / "c.toml"
    path.write_text('constraints = ["memory < 8"]\n[objective]\nentrypoint = "m:f"\n'
                    "[search_space]\nx = [1, 2]\n[budget]\ntrials = 2\n")
    assert main(["launch", str(path), "--dir", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "constraints[0]: 'memory < 8'" in lines[0]
    assert not (tmp_path / "out").exists()


OBJECTIVE = '''
def f(params):
    lr = params["lr"]
    if params["optimizer"] == "sgd":
        assert "momentum" in params
        return {"objective": lr * (1 - params["momentum"]), "cost": 10.0}   # good, too dear
    assert "momentum" not in params
    return {"objective": lr, "cost": 1.0}
'''


@pytest.mark.slow
def test_a_campaign_with_conditions_and_a_constraint(tmp_path: Path) -> None:
    (tmp_path / "cc.py").write_text(OBJECTIVE)
    table = {"name": "cc", "seed": 3, "n_init": 4, "concurrency": 2,
             "constraints": ["cost <= 5"],
             "objective": {"entrypoint": "cc:f"},
             "search_space": {k: SPACE[k] for k in ("optimizer", "lr", "momentum")},
             "budget": {"trials": 8}}
    run = hpsearch.Campaign.from_dict(table, source_dir=tmp_path).launch(tmp_path / "c",
                                                                          quiet=True)
    assert run.exit_code == 0
    trials = load(tmp_path / "c").get_trials()
    assert len(trials) == 8 and all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        written = json.loads((tmp_path / "c" / "trials" / str(t.number) / "params.json")
                             .read_text())
        assert written == t.params  # only the active parameters
        sgd = t.params["optimizer"] == "sgd"
        assert ("momentum" in t.params) == sgd and t.user_attrs["feasible"] is (not sgd)
    infeasible = sum(1 for t in trials if not t.user_attrs["feasible"])
    assert infeasible >= 1  # the design holds both optimizers

    best = run.best(top=8)
    feasible_flags = [row["feasible"] for row in best]
    assert feasible_flags == sorted(feasible_flags, key=lambda f: f != "yes")
    assert best[0]["feasible"] == "yes"
    assert ranked(trials, "minimize")[0].params["optimizer"] == "adam"
    status = cli("status", str(tmp_path / "c"))
    assert f"{infeasible} break the constraints (cost <= 5)" in status.stdout
    table_out = cli("best", str(tmp_path / "c"), "--top", "8")
    assert "feasible" in table_out.stdout.splitlines()[0] and " NO " in table_out.stdout
