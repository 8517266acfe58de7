"""A driver that dies or is stopped leaves no block of its campaign in the queue."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from optuna.trial import TrialState
from slurm_helpers import attempts, ended_as, job_ids, queued, write_campaign
from spine_helpers import cli, load, start_cli, wait_for

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

# Two exclusive one-worker blocks: the first runs, the second waits in the queue for the node.
TWO_BLOCKS = 'blocks = 2\n"scheduler.init_blocks" = 2\n"scheduler.exclusive" = true'


def _start_held(tmp_path: Path):
    (tmp_path / "HOLD").touch()
    campaign = write_campaign(tmp_path, "held", trials=3, site=TWO_BLOCKS, workers=1)
    directory = tmp_path / "run"
    driver = start_cli("launch", str(campaign), "--dir", str(directory))
    wait_for(lambda: len(job_ids(directory)) == 2 and bool(attempts(directory, 0)
                                                           or attempts(directory, 1)),
             180, "two blocks submitted and a trial running")
    jobs = job_ids(directory)
    assert set(jobs) <= queued()
    return driver, directory, jobs


def test_kill_9_then_resume_cancels_the_dead_drivers_blocks(slurm: str, tmp_path: Path) -> None:
    driver, directory, jobs = _start_held(tmp_path)
    try:
        os.kill(driver.pid, signal.SIGKILL)  # the driver alone: its blocks live on
        driver.wait(timeout=30)
        assert set(jobs) <= queued()
        (tmp_path / "HOLD").unlink()
        run = cli("resume", str(directory), timeout=400)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert run.returncode == 0, run.stdout + run.stderr
    assert {ended_as(job) for job in jobs} == {"CANCELLED"}
    states = [t.state for t in load(directory).trials]
    assert states.count(TrialState.COMPLETE) == 3  # interrupted ones were re-run
    every_job = set(job_ids(directory))
    assert every_job > set(jobs)  # the resumed driver submitted its own blocks ...
    wait_for(lambda: not queued() & every_job, 60, "no block of the campaign in squeue")


def test_ctrl_c_cancels_running_and_queued_blocks(slurm: str, tmp_path: Path) -> None:
    driver, directory, jobs = _start_held(tmp_path)
    try:
        os.killpg(driver.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        out, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
        (tmp_path / "HOLD").unlink(missing_ok=True)
    assert driver.returncode == 130, out
    wait_for(lambda: not queued() & set(jobs), 60, "the blocks to leave squeue")
    assert {ended_as(job) for job in jobs} == {"CANCELLED"}
