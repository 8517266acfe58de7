"""The driver's status line before any trial finished: what the running trials last reported."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import optuna

from hpsearch.campaign import Campaign
from hpsearch.driver import Driver, InFlight
from hpsearch.samplers import make_sampler
from hpsearch.sites import load_site
from hpsearch.study_view import StudyView
from workflows.trial_io import TrialPaths

TABLE = {"name": "p", "objective": {"entrypoint": "m:f", "metric": "loss"},
         "search_space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
         "budget": {"trials": 10}}


def test_the_status_line_shows_the_latest_epoch_then_an_eta(tmp_path: Path) -> None:
    campaign = Campaign.from_dict(TABLE)
    study = optuna.create_study(study_name="p")
    view = StudyView(study._storage, "p", make_sampler("random", 0, 0))
    driver = Driver(campaign, load_site("local"), tmp_path, view, concurrency=2)
    asked = view.ask(2, campaign.space.distributions())
    for a in asked:
        driver.inflight[a.number] = InFlight(a.number, concurrent.futures.Future(),
                                             TrialPaths.of(tmp_path, a.number), time.time() - 75)
    assert "first trials running for 0:01:1" in driver._summary()
    view.report(asked[1].number, 0, 0.9)
    view.report(asked[1].number, 3, 0.42)
    driver.inflight[asked[1].number].last_values["loss"] = 0.42
    line = driver._summary()
    assert "done 0/10" in line and f"trial {asked[1].number} step 3 loss 0.42" in line
    del driver.inflight[asked[0].number]
    view.finish(asked[0].number, optuna.trial.TrialState.COMPLETE, 0.3)
    driver.finished_this_run = 1
    line = driver._summary()
    assert "eta " in line and "step 3" not in line  # once a trial finished: an ETA instead


def test_best_says_why_it_shows_fewer_rows() -> None:
    from hpsearch.best import shortfall_note

    study = optuna.create_study()
    for state, value in [("COMPLETE", 1.0), ("COMPLETE", 2.0), ("PRUNED", None),
                         ("FAIL", None), ("FAIL", None)]:
        study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState[state],
                                                  value=value))
    trials = study.get_trials()
    assert shortfall_note(trials, 2, 5) == "only 2 completed trials to show (1 pruned, 2 failed)"
    assert shortfall_note(trials, 2, 2) is None
