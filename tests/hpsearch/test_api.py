"""The Python API and `resume --trials/--wall-time/--site`: whole campaigns, real Parsl."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from optuna.trial import TrialState
from spine_helpers import OBJECTIVES, cli, load

import hpsearch

pytestmark = pytest.mark.slow  # each test drives a whole campaign through real Parsl


def _table(trials: int, **extra: object) -> dict:
    return {
        "name": "api", "seed": 5, "n_init": 3, "concurrency": 2,
        "objective": {"entrypoint": "objectives:branin"},
        "search_space": {"x": {"type": "float", "low": -5.0, "high": 10.0},
                         "y": {"type": "float", "low": 0.0, "high": 15.0}},
        "budget": {"trials": trials}, **extra,
    }


def test_a_whole_campaign_through_the_api(tmp_path: Path) -> None:
    (tmp_path / "objectives.py").write_text(OBJECTIVES)
    campaign = hpsearch.Campaign.from_dict(_table(5), source_dir=tmp_path)
    assert campaign.name == "api" and campaign.to_dict()["n_init"] == 3
    run = campaign.launch(directory=tmp_path / "c", quiet=True)
    assert run.exit_code == 0

    run = hpsearch.open(tmp_path / "c")
    best = run.best(top=3)
    assert [row["rank"] for row in best] == [1, 2, 3]
    values = [row["objective"] for row in best]
    assert values == sorted(values)
    assert best[0]["objective"] == load(tmp_path / "c").best_value
    assert {"x", "y", "trial", "source"} <= set(best[0])
    status = run.status()
    assert status["counts"] == {"complete": 5} and status["budget_used"] == 5
    trials = run.trials()
    assert [t["number"] for t in trials] == list(range(5))
    assert all(t["state"] == "COMPLETE" and "params_x" in t for t in trials)
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(hpsearch.UserError, match="pip install pandas"):
            run.trials_dataframe()
    else:
        assert len(run.trials_dataframe()) == 5

    # Extend: three more trials and a wall time; the finished five stay as they were.
    before = {t.number: t.value for t in load(tmp_path / "c").get_trials()}
    assert run.resume(trials=8, wall_time="00:05:00", quiet=True) == 0
    study = load(tmp_path / "c")
    assert len(study.get_trials()) == 8
    assert all(t.state == TrialState.COMPLETE for t in study.get_trials())
    assert {t.number: t.value for t in study.get_trials()[:5]} == before
    assert study.user_attrs["campaign"]["budget"] == {"trials": 8, "wall_time": "00:05:00"}
    [change] = study.user_attrs["history"]
    assert change["trials"] == 8 and change["wall_time"] == "00:05:00"

    with pytest.raises(hpsearch.UserError, match="top"):
        run.best(top=0)
    with pytest.raises(hpsearch.UserError):
        hpsearch.open(tmp_path / "nowhere")


RESUME_MISTAKES = [
    (["--trials", "2"], "--trials"),          # fewer than the 4 already used
    (["--wall-time", "ten minutes"], "--wall-time"),
    (["--site", "no-such-site"], "no-such-site"),
    (["--set", "workers"], "--set"),
    (["--site", "local", "--set", "workers=1"], "concurrency"),  # 1 slot, 2 in flight
]


def test_resume_extends_moves_and_refuses_bad_values(tmp_path: Path) -> None:
    (tmp_path / "objectives.py").write_text(OBJECTIVES)
    hpsearch.Campaign.from_dict(_table(4), source_dir=tmp_path).launch(tmp_path / "c", quiet=True)
    directory = tmp_path / "c"
    stored = load(directory).user_attrs
    for args, field in RESUME_MISTAKES:
        done = cli("resume", str(directory), *args)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and field in lines[0], (args, done.stderr)
    assert load(directory).user_attrs == stored  # nothing changed
    assert len(load(directory).get_trials()) == 4

    done = cli("resume", str(directory), "--trials", "6", "--site", "local", "--set", "workers=2")
    assert done.returncode == 0, done.stderr
    study = load(directory)
    assert len(study.get_trials()) == 6
    assert study.user_attrs["campaign"]["site"] == {"name": "local", "workers": 2}
    assert study.user_attrs["site"]["workers"]["per_node"] == 2
    assert [h["trials"] for h in study.user_attrs["history"]] == [6]
    assert "next: hpsearch best" in done.stderr

    # A finished campaign: nothing runs, nothing claims trials in flight, the next steps shown.
    again = cli("resume", str(directory))
    assert again.returncode == 0, again.stderr
    assert "budget already met" in again.stderr and "running 0" in again.stderr
    assert "in flight" not in again.stderr and "next: hpsearch best" in again.stderr
    assert len(load(directory).get_trials()) == 6

    short = cli("best", str(directory), "--top", "9")
    assert short.returncode == 0 and len(short.stdout.strip().splitlines()) == 7
    assert "only 6 completed trials" in short.stderr


STUBBORN = """
import json, pathlib, sys, time
params, progress, out = sys.argv[1:4]
runs = pathlib.Path(__file__).with_name("runs")
runs.mkdir(exist_ok=True)
order = len(list(runs.iterdir()))
(runs / str(order)).touch()
value = 1.0 if order < 2 else 10.0   # the third trial is clearly worse
for step in range(8):
    with open(progress, "a") as handle:
        handle.write(json.dumps({"step": step, "metrics": {"objective": value}}) + "\\n")
    time.sleep(0.5 if order >= 2 else 0.05)
# It never looks at the stop file and reports a result as if it had run to the end.
pathlib.Path(out).write_text(json.dumps({"objective": value}))
"""


def test_a_trial_asked_to_stop_is_pruned_even_when_it_returns_a_value(tmp_path: Path) -> None:
    (tmp_path / "stubborn.py").write_text(STUBBORN)
    table = {
        "name": "stubborn", "n_init": 3, "concurrency": 1, "pruner": "median",
        "objective": {"command": [sys.executable, str(tmp_path / "stubborn.py"),
                                  "{params}", "{progress}", "{out}"]},
        "search_space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "budget": {"trials": 3},
    }
    run = hpsearch.Campaign.from_dict(table, source_dir=tmp_path).launch(tmp_path / "c",
                                                                          quiet=True)
    assert run.exit_code == 0
    states = [t.state for t in load(tmp_path / "c").get_trials()]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED]
    result = json.loads((tmp_path / "c" / "trials" / "2" / "result.json").read_text())
    assert result["status"] == "ok"  # the trial said ok; the driver knows better
