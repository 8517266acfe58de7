"""Whole campaigns: real CLI processes, a real Parsl HTEX, real SQLite files, real signals."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psutil
import pytest
from optuna.trial import TrialState
from spine_helpers import BRANIN_SPACE, cli, load, start_cli, wait_for, write_campaign

from hpsearch import leftovers

pytestmark = pytest.mark.slow  # each test drives a whole campaign through real Parsl


def _campaign(objective: str, trials: int, n_init: int, space: str, extra: str = "") -> str:
    return f"""
name = "t"
seed = 11
n_init = {n_init}
concurrency = 2
{extra}
[objective]
entrypoint = "{objective}"
[search_space]
{space}
[budget]
trials = {trials}
"""


def _helpers(directory: Path) -> list[tuple[int, float]]:
    """(pid, start time) of the Parsl interchange(s) the last driver recorded."""
    return [tuple(h) for h in json.loads((directory / "driver.json").read_text())["helpers"]]


def _alive(pid: int, create_time: float) -> bool:
    try:
        process = psutil.Process(pid)
        return (abs(process.create_time() - create_time) < 1.0
                and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _no_leftovers(directory: Path, earlier: list[tuple[int, float]] = ()) -> None:
    helpers = list(earlier) + _helpers(directory)
    assert helpers, "the driver recorded no Parsl interchange"
    assert not [h for h in helpers if _alive(*h)]
    assert leftovers.find(directory) == []
    marked = str(directory)  # worker pools (their log dir) and trials (their files)
    for process in psutil.process_iter(["cmdline"]):
        assert not any(marked in part for part in (process.info["cmdline"] or [])), process


def test_twelve_trials_lhs_first(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, _campaign("objectives:branin", 12, 5, BRANIN_SPACE))
    done = cli("launch", str(path), "--dir", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr
    directory = tmp_path / "c"
    study = load(directory)
    trials = study.get_trials()
    assert len(trials) == 12
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert [t.user_attrs["source"] for t in trials[:5]] == ["lhs"] * 5
    assert [t.user_attrs["lhs_index"] for t in trials[:5]] == list(range(5))
    assert {t.user_attrs["source"] for t in trials[5:]} == {"sampler"}
    assert study.user_attrs["campaign"]["n_init"] == 5
    assert study.user_attrs["site"]["name"] == "local"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "campaign.db").stat().st_mode) == 0o600
    assert (directory / "trials" / "0" / "trial.log").exists()
    _no_leftovers(directory)

    best = cli("best", str(directory), "--top", "3", "--format", "json")
    assert best.returncode == 0, best.stderr
    rows = json.loads(best.stdout)
    assert len(rows) == 3 and rows[0]["objective"] == study.best_value
    status = cli("status", str(directory / "campaign.db"))
    assert "complete 12" in status.stdout


def test_failures_are_recorded_and_the_campaign_goes_on(tmp_path: Path) -> None:
    # Four LHS points over four choices: each mode exactly once.
    space = 'mode = { type = "categorical", choices = ["ok", "raise", "nan", "exit"] }'
    path = write_campaign(tmp_path, _campaign("objectives:by_mode", 4, 4, space))
    done = cli("launch", str(path), "--dir", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr
    by_mode = {t.params["mode"]: t for t in load(tmp_path / "c").get_trials()}
    assert by_mode["ok"].state == TrialState.COMPLETE and by_mode["ok"].value == 1.5
    for mode in ("raise", "nan", "exit"):
        assert by_mode[mode].state == TrialState.FAIL
        assert by_mode[mode].value is None  # no magic value
    assert "ValueError: bad luck with raise" in by_mode["raise"].user_attrs["fail_reason"]
    assert "not a finite number" in by_mode["nan"].user_attrs["fail_reason"]
    assert "exit code 7" in by_mode["exit"].user_attrs["fail_reason"]
    assert "Traceback" in by_mode["raise"].user_attrs["log_tail"]


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c", "job-end"])
def test_stop_records_interrupted_trials(tmp_path: Path, how: str) -> None:
    path = write_campaign(tmp_path, _campaign("objectives:slow", 4, 2, BRANIN_SPACE))
    directory = tmp_path / "c"
    driver = start_cli("launch", str(path), "--dir", str(directory))
    try:
        wait_for(lambda: sum(1 for _ in directory.glob("trials/*/trial.log")) == 2, 90,
                 "two trials running")
        if how == "sigterm":
            os.kill(driver.pid, signal.SIGTERM)  # someone stopping the driver
        elif how == "ctrl-c":
            os.killpg(driver.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        else:
            os.killpg(driver.pid, signal.SIGTERM)  # a batch system ending the whole job
        output, _ = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 130, output
    assert "hpsearch resume" in output
    trials = load(directory).get_trials()
    running = [t for t in trials if t.state != TrialState.WAITING]
    assert len(running) == 2
    for trial in running:
        assert trial.state == TrialState.FAIL and trial.user_attrs["interrupted"] is True
    _no_leftovers(directory)


def test_kill_9_then_resume(tmp_path: Path) -> None:
    space = BRANIN_SPACE + '\nsleep = { type = "categorical", choices = [0.3] }'
    path = write_campaign(tmp_path, _campaign("objectives:branin", 8, 5, space))
    directory = tmp_path / "c"
    driver = start_cli("launch", str(path), "--dir", str(directory))

    def complete() -> list:
        try:
            return load(directory).get_trials(states=(TrialState.COMPLETE,))
        except Exception:
            return []  # the database is still being created

    try:
        wait_for(lambda: len(list(directory.glob("trials/*/result.json"))) >= 3, 120,
                 "three trials finished")
        # From now on trials hang, so both slots are surely busy when the driver dies.
        (tmp_path / "HOLD").touch()
        wait_for(lambda: len(list(tmp_path.glob("held-*"))) >= 2, 60, "two trials held")
        # Readers work while the driver writes.
        assert "running 2" in cli("status", str(directory)).stdout
        before = {t.number: t.value for t in complete()}
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    # The driver is gone but its Parsl interchange, workers and trials live on.
    orphans = leftovers.find(directory)
    assert len(orphans) > 3, "expected the killed driver's interchange, workers and trials"
    first_helpers = _helpers(directory)
    assert all(_alive(*h) for h in first_helpers)

    done = cli("resume", str(directory), timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    study = load(directory)
    trials = study.get_trials()
    finished = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(finished) == 8  # the budget: every trial of this objective completes
    for number, value in before.items():
        assert study.trials[number].value == value  # nothing completed was lost
    design = Counter(t.user_attrs["lhs_index"] for t in finished if "lhs_index" in t.user_attrs)
    assert design == Counter(range(5))  # every design point ran to completion exactly once
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed, "the kill should have interrupted a trial in flight"
    for trial in failed:  # the two held trials: ended by resume, run again
        assert trial.user_attrs["interrupted"] is True
        retries = [t for t in trials if t.user_attrs.get("retry_of") == trial.number]
        assert len(retries) == 1 and retries[0].params == trial.params
    assert not any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)
    assert not [p for p in orphans if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    _no_leftovers(directory, first_helpers)


def test_launch_finds_parsls_programs_without_the_interpreters_folder_on_path(tmp_path: Path):
    """A virtual environment's hpsearch run by its full path, its bin not on PATH: Parsl's
    interchange and worker pool are found next to the interpreter all the same."""
    file = write_campaign(tmp_path, _campaign("objectives:branin", trials=2, n_init=2,
                                              space=BRANIN_SPACE))
    env = {key: value for key, value in os.environ.items() if key != leftovers.ENV_MARK}
    env["PATH"] = "/usr/bin:/bin"
    done = subprocess.run([sys.executable, "-m", "hpsearch.cli", "launch", str(file), "--dir",
                           str(tmp_path / "c")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [t.state for t in load(tmp_path / "c").trials] == [TrialState.COMPLETE] * 2
