"""What `resume` repairs before driving: orphaned RUNNING trials, retries, the design."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
from optuna.trial import TrialState

from hpsearch.resume import design_present, enqueue_retries, recover_orphans
from hpsearch.storage import create_sqlite_file, open_sqlite


def test_orphans_are_recovered_or_interrupted_and_retried_once(tmp_path: Path) -> None:
    db = tmp_path / "campaign.db"
    create_sqlite_file(db)
    study = optuna.create_study(storage=open_sqlite(db), study_name="r")
    for i in range(3):
        study.enqueue_trial({"x": float(i)}, user_attrs={"source": "lhs", "lhs_index": i})
    distributions = {"x": optuna.distributions.FloatDistribution(0.0, 10.0)}
    trials = [study.ask(distributions) for _ in range(3)]  # the driver died with all three
    finished = tmp_path / "trials" / str(trials[0].number)
    finished.mkdir(parents=True)
    (finished / "result.json").write_text(json.dumps(
        {"status": "ok", "objective": 0.25, "metrics": {"objective": 0.25}}))
    broken = tmp_path / "trials" / str(trials[1].number)
    broken.mkdir(parents=True)
    (broken / "result.json").write_text(json.dumps({"status": "failed", "reason": "oops"}))

    counts = recover_orphans(study, tmp_path, "objective")
    assert counts == {"recovered": 2, "interrupted": 1}
    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL]
    assert study.trials[0].value == 0.25 and study.trials[0].user_attrs["recovered"]
    assert study.trials[1].user_attrs["fail_reason"] == "oops"
    assert study.trials[2].user_attrs["interrupted"] is True

    assert enqueue_retries(study) == 1
    assert enqueue_retries(study) == 0  # a second resume does not enqueue it again
    retry = study.trials[3]
    assert retry.state == TrialState.WAITING
    assert retry.user_attrs == {"source": "retry", "retry_of": 2, "lhs_index": 2}
    assert retry.system_attrs["fixed_params"] == {"x": 2.0}
    assert design_present(study) == {0, 1, 2}
