"""Real faults of a batch system: a block reaching its walltime, a block cancelled."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from optuna.trial import TrialState
from slurm_helpers import attempts, ended_as, job_ids, params_file, write_campaign
from spine_helpers import cli, load, start_cli, wait_for

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

DRAIN_S = 30  # of a one-minute walltime


def test_walltime_drains_and_reruns_for_free(slurm: str, tmp_path: Path) -> None:
    # One-minute blocks that stop taking trials after 30 s. One trial outlives the first
    # block; with no infrastructure retries at all, it must still be re-run and complete.
    site = (f'walltime = "00:01:00"\n[site.executor]\ndrain_margin = "00:00:{DRAIN_S}"\n'
            "[site.retry]\ninfrastructure_retries = 0")
    campaign = write_campaign(tmp_path, "long_once", trials=10, site=site, sleep=(3.0, 5.0))
    run = cli("launch", str(campaign), "--dir", str(tmp_path / "run"), timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    directory = tmp_path / "run"
    trials = load(directory).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 10
    first_job = job_ids(directory)[0]
    assert ended_as(first_job) == "TIMEOUT"
    (long,) = [t for t in trials if len(attempts(directory, t.number)) > 1]
    placed = attempts(directory, long.number)
    assert len(placed) == 2 and placed[0]["job_id"] == first_job != placed[1]["job_id"]
    assert params_file(directory, long.number) == long.params  # the same point, re-run
    # Draining: a trial submitted while the first block still ran (before its one-minute
    # walltime), into the worker a finished trial had just freed there, waited for the next
    # block: the first block took no trial after its drain time.
    block_start = placed[0]["pool_started"]
    waited = [t.number for t in trials
              if (directory / "trials" / str(t.number) / "params.json").stat().st_mtime
              < block_start + 60 and attempts(directory, t.number)[0]["job_id"] != first_job]
    assert waited, "every trial submitted during the first block ran on it: no draining"


def test_cancelled_block_trials_are_retried(slurm: str, tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path, "held", trials=4)
    (tmp_path / "HOLD").touch()
    driver = start_cli("launch", str(campaign), "--dir", str(tmp_path / "run"))
    directory = tmp_path / "run"
    try:
        wait_for(lambda: bool(attempts(directory, 0) or attempts(directory, 1)), 180,
                 "a trial to start on a block")
        number = 0 if attempts(directory, 0) else 1
        victim = attempts(directory, number)[0]["job_id"]
        subprocess.run(["scancel", victim], check=True, timeout=30)  # the node is lost
        (tmp_path / "HOLD").unlink()
        out, _ = driver.communicate(timeout=400)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, out
    trials = load(directory).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert ended_as(victim) == "CANCELLED"
    placed = attempts(directory, number)
    assert len(placed) >= 2 and placed[0]["job_id"] == victim != placed[-1]["job_id"]
    assert params_file(directory, number) == trials[number].params
