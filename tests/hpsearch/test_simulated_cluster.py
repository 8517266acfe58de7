"""The real driver on the simulated cluster: 64 workers, 500 trials, a stop and a resume.

Real sampler (TPE after a Latin-hypercube design), real SQLite file, real progress files and
median pruner; only the trials are simulated. Nothing here depends on the machine's speed:
the clock is virtual and the assertions are on counts and accounting.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.best import ranked, top_trials
from hpsearch.simulated_campaign import drive_simulated, new_cluster, simulated_campaign
from hpsearch.simulated_cluster import Durations
from hpsearch.status import summarize
from hpsearch.storage import open_campaign

pytestmark = pytest.mark.slow  # two whole campaigns of 500 trials

SPACE = {"x": {"type": "float", "low": -5.0, "high": 10.0},
         "y": {"type": "float", "low": 0.0, "high": 15.0}}
WORKERS, TRIALS, N_INIT = 64, 500, 16


def _objective(params: dict) -> float:
    return (params["x"] - 1.0) ** 2 + (params["y"] - 2.0) ** 2


def _cluster(seed: int):
    return new_cluster(WORKERS, _objective, durations=Durations("lognormal", 60.0, 0.3),
                       epochs=3, failure_rate=0.03, seed=seed)


def _consistent(stats) -> None:
    """Busy time is what the trials lasted; utilisation is a fraction of capacity."""
    assert stats.launched > 0 and stats.ended == stats.launched
    assert math.isclose(stats.busy_s, stats.ended_s, rel_tol=1e-9)
    assert 0 < stats.utilisation <= 1
    assert stats.busy_s <= WORKERS * stats.now
    if stats.launched > WORKERS:
        assert stats.fill_s is not None and stats.fill_s <= stats.last_launch_s
        assert 0 < stats.steady_utilisation <= 1


def test_stop_and_resume_on_the_simulated_cluster(tmp_path: Path) -> None:
    directory = tmp_path / "campaign"
    campaign = simulated_campaign(SPACE, TRIALS, n_init=N_INIT, seed=3, pruner="median",
                                  wall_time="00:04:00")  # virtual: about half the budget
    first = drive_simulated(directory, _cluster(1), campaign)
    assert first.exit_code == 0 and first.driver.stop_reason == "budget.wall_time reached"
    stopped = first.driver.view
    assert stopped.counts()["interrupted"] > 0 and stopped.budget_used() < TRIALS
    assert first.cluster.stats.launched == sum(stopped.counts().values())
    _consistent(first.cluster.stats)
    # budget.wall_time bounds every run: resume until the budget is met.
    runs = [first]
    while runs[-1].driver.stop_reason is not None:
        assert len(runs) < 5
        runs.append(drive_simulated(directory, _cluster(len(runs) + 1)))
        assert runs[-1].exit_code == 0
        _consistent(runs[-1].cluster.stats)
    assert len(runs) >= 2

    study = optuna.load_study(study_name="simulated", storage=f"sqlite:///{directory}/campaign.db")
    trials = study.get_trials()
    states = Counter(t.state for t in trials)
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    interrupted = [t for t in trials if t.user_attrs.get("interrupted")]
    used = [t for t in trials if not t.user_attrs.get("interrupted")]
    assert len(used) == TRIALS  # every trial of the budget recorded, none twice
    assert states[TrialState.PRUNED] > 0  # the median pruner stopped trials via stop files
    failed = [t for t in used if t.state == TrialState.FAIL]
    assert failed and all(t.user_attrs["fail_reason"] == "exit code 1: simulated failure"
                          for t in failed)
    # Each interrupted trial was retried once, with its parameters.
    retries = {t.user_attrs["retry_of"]: t for t in trials if "retry_of" in t.user_attrs}
    assert sorted(retries) == [t.number for t in interrupted]
    assert all(retries[t.number].params == t.params for t in interrupted)
    # The design came first, in its order, and ran once each (retries keep the index).
    assert [t.user_attrs.get("lhs_index") for t in trials[:N_INIT]] == list(range(N_INIT))
    assert sorted(t.user_attrs["lhs_index"] for t in used if "lhs_index" in t.user_attrs) == \
        list(range(N_INIT))
    assert {t.user_attrs["source"] for t in used[N_INIT:]} <= {"sampler", "retry"}
    # What the driver counted is what the database holds.
    view = runs[-1].driver.view
    assert view.budget_used() == TRIALS
    assert view.best().number == study.best_trial.number
    # status and best read a few columns only: the same answers as from every full trial.
    opened, _ = open_campaign(str(directory), read_only=True)
    summary = summarize(opened)
    assert summary["counts"] == {state: n for state, n in view.counts().items() if n}
    assert summary["budget_used"] == TRIALS
    assert summary["best"]["trial"] == study.best_trial.number
    assert summary["best"]["params"] == study.best_trial.params
    expected = [t.number for t in ranked(trials, study.direction)[:10]]
    assert [t.number for t in top_trials(opened, 10)] == expected
    assert top_trials(opened, 10)[3].params == trials[expected[3]].params
