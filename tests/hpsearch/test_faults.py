"""The fault suite: a user's faults and mistakes against real processes, each ending in its
documented state (README, "Reliability")."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import optuna
import psutil
import pytest
from optuna.trial import TrialState
from spine_helpers import (
    BRANIN_SPACE,
    _env,
    branin_campaign,
    load,
    start_cli,
    wait_for,
    write_campaign,
)

from hpsearch import leftovers
from hpsearch.cli import main
from hpsearch.driver_faults import EXIT_FAULT
from hpsearch.executor_watch import TIMEOUT_VAR


def campaign(entrypoint: str = "objectives:branin", trials: int = 3, n_init: int = 2,
             extra: str = "", space: str = BRANIN_SPACE) -> str:
    return branin_campaign(trials=trials, top=f"n_init = {n_init}\nconcurrency = 2\n{extra}\n",
                           entrypoint=entrypoint, space=space)


def run_cli(*args: str, umask: int | None = None, timeout: float = 180,
            **kwargs) -> subprocess.CompletedProcess:
    def preexec() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run([sys.executable, "-m", "hpsearch.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=_env(), preexec_fn=preexec, **kwargs)


@pytest.mark.slow
def test_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, campaign())
    directory = tmp_path / "c"
    done = run_cli("launch", str(path), "--dir", str(directory), umask=0)
    assert done.returncode == 0, done.stderr
    assert load(directory).get_trials()[0].state == TrialState.COMPLETE
    seen = {"dirs": 0, "files": 0}
    for root, dirs, files in os.walk(directory):
        for name in dirs:
            mode = stat.S_IMODE(os.lstat(Path(root, name)).st_mode)
            assert mode == 0o700, (Path(root, name), oct(mode))
            seen["dirs"] += 1
        for name in files:
            info = os.lstat(Path(root, name))
            if stat.S_ISREG(info.st_mode):
                assert stat.S_IMODE(info.st_mode) == 0o600, (Path(root, name), oct(info.st_mode))
                seen["files"] += 1
    names = {p.name for p in directory.rglob("*")}
    assert {"params.json", "result.json", "trial.log", "driver.json", "parsl"} <= names
    assert seen["dirs"] >= 4 and seen["files"] >= 8


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT)")
        connection.execute("INSERT INTO accounts (owner) VALUES ('someone')")
    connection.close()


def _optuna_storage_with_study(path: Path, name: str) -> None:
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
    optuna.create_study(storage=storage, study_name=name)
    storage.engine.dispose()


@pytest.mark.parametrize("make, field", [
    (_foreign_sqlite, "another program's tables (accounts)"),
    (lambda p: p.write_text("not a database at all\n" * 100), "not a database"),
    (lambda p: _optuna_storage_with_study(p, "f"), "already holds a study 'f'"),
], ids=["foreign tables", "not sqlite", "same study name"])
def test_a_storage_of_someone_else_is_refused_and_left_unchanged(
        tmp_path: Path, monkeypatch, capsys, make, field: str) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "other.db"
    make(db)
    before = _digest(db)
    path = write_campaign(tmp_path, campaign(extra=f'storage = "sqlite:///{db}"'))
    files = sorted(p.name for p in tmp_path.iterdir())
    code = main(["launch", str(path), "--dir", str(tmp_path / "c")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert field in lines[0]
    assert _digest(db) == before  # byte for byte, and no -wal or -journal beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == files


def _states(directory: Path) -> Counter:
    return Counter(t.state.name for t in load(directory).get_trials())


def _running(directory: Path) -> int:
    try:
        return _states(directory)["RUNNING"]
    except Exception:  # the database is being created
        return 0


def _resume_to_the_budget(directory: Path, trials: int) -> None:
    done = run_cli("resume", str(directory))
    assert done.returncode == 0, done.stderr
    study = load(directory)
    assert _states(directory)["RUNNING"] == 0
    used = [t for t in study.get_trials()
            if t.state != TrialState.WAITING and not t.user_attrs.get("interrupted")]
    assert len(used) == trials


@pytest.mark.slow
def test_a_closed_output_pipe_interrupts_in_flight_trials(tmp_path: Path) -> None:
    space = BRANIN_SPACE + '\nsleep = { type = "float", low = 0.5, high = 1.5 }'
    path = write_campaign(tmp_path, campaign(trials=5, n_init=2, space=space))
    directory = tmp_path / "c"
    driver = subprocess.Popen([sys.executable, "-m", "hpsearch.cli", "launch", str(path),
                               "--dir", str(directory)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=_env())
    assert driver.stdout is not None
    first = driver.stdout.readline()  # as `hpsearch launch c.toml 2>&1 | head -1` would
    driver.stdout.close()
    assert b"campaign f" in first
    assert driver.wait(timeout=120) == EXIT_FAULT
    states = _states(directory)
    assert states["RUNNING"] == 0, states
    for trial in load(directory).get_trials():
        if trial.user_attrs.get("interrupted"):
            assert "output pipe was closed" in trial.user_attrs["fail_reason"]
    _resume_to_the_budget(directory, 5)


@pytest.mark.slow
@pytest.mark.parametrize("how, said", [
    (signal.SIGKILL, "died (killed by signal 9)"),
    (signal.SIGSTOP, "has not answered for 3 s"),  # alive, but hung
], ids=["killed", "hung"])
def test_a_lost_interchange_stops_the_driver_and_resume_continues(
        tmp_path: Path, monkeypatch, how: signal.Signals, said: str) -> None:
    monkeypatch.setenv(TIMEOUT_VAR, "3")
    path = write_campaign(tmp_path, campaign(trials=3, n_init=2))
    (tmp_path / "HOLD").touch()  # the first two trials wait until it goes
    directory = tmp_path / "c"
    driver = start_cli("launch", str(path), "--dir", str(directory))
    try:
        wait_for(lambda: _running(directory) == 2 and len(list(tmp_path.glob("held-*"))) == 2,
                 120, "two trials running")
        record = json.loads((directory / "driver.json").read_text())
        interchange = record["helpers"][0][0]
        os.kill(interchange, how)
        out, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == EXIT_FAULT, out
    assert f"interchange (pid {interchange}) {said}" in out
    assert "Traceback" not in out
    study = load(directory)
    assert _states(directory)["RUNNING"] == 0
    assert sum(bool(t.user_attrs.get("interrupted")) for t in study.get_trials()) == 2
    assert leftovers.find(directory) == []
    (tmp_path / "HOLD").unlink()
    _resume_to_the_budget(directory, 3)


@pytest.fixture
def small_filesystem(tmp_path: Path):
    """A 40 MB tmpfs, where the machine lets this user mount one."""
    mount = tmp_path / "fs"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root and mount(8)")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"this machine cannot mount a tmpfs: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:  # unbuffered: nothing left to flush
        try:
            while True:
                handle.write(b"\0" * (1 << 20))
        except OSError:
            pass
    return filler


@pytest.mark.slow
def test_a_full_disk_stops_the_driver_in_one_line_and_resume_finishes(
        tmp_path: Path, small_filesystem: Path) -> None:
    path = write_campaign(tmp_path, campaign(trials=4, n_init=2))
    (tmp_path / "HOLD").touch()
    directory = small_filesystem / "c"
    driver = start_cli("launch", str(path), "--dir", str(directory))
    try:
        wait_for(lambda: len(list(tmp_path.glob("held-*"))) == 2, 120, "two trials running")
        filler = _fill(small_filesystem)
        (tmp_path / "HOLD").unlink()
        out, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == EXIT_FAULT, out
    assert "Traceback" not in out and "Logging error" not in out, out
    assert len([line for line in out.splitlines() if "disk full" in line]) <= 3, out
    assert "disk full" in out
    assert not list(directory.rglob("*.tmp"))  # no half-written record beside the real one
    filler.unlink()
    _resume_to_the_budget(directory, 4)


def _big_design(tmp_path: Path, wall_time: str = "00:00:03") -> Path:
    """40 design points (slow enough to enqueue that a kill lands in the middle); the
    wall-time budget stops a run of it after a few seconds."""
    return write_campaign(tmp_path, campaign(trials=40, n_init=40).replace(
        "trials = 40", f'trials = 40\nwall_time = "{wall_time}"'))


def _whole(directory: Path) -> bool:
    study = load(directory)
    design = [t for t in study.get_trials() if "lhs_index" in t.user_attrs]
    return "campaign" in study.user_attrs and len(design) == 40


@pytest.mark.slow
def test_launch_killed_while_creating_leaves_nothing_or_a_whole_campaign(tmp_path: Path) -> None:
    rng = random.Random(13)
    path = _big_design(tmp_path)
    outcomes: Counter = Counter()
    delays = [0.0] + [rng.uniform(0.0, 2.0) for _ in range(5)]  # seeded moments
    for run, delay in enumerate(delays):
        directory = tmp_path / f"c{run}"
        launch = start_cli("launch", str(path), "--dir", str(directory))
        wait_for(lambda d=directory, r=run: d.exists() or any(tmp_path.glob(f".c{r}.creating.*")),
                 120, "the study being created")
        time.sleep(delay)
        os.killpg(launch.pid, signal.SIGKILL)
        launch.wait()
        if directory.exists():
            assert _whole(directory), f"kill {delay:.2f} s into creation stranded {directory}"
            outcomes["whole"] += 1
        else:
            outcomes["nothing"] += 1
    assert outcomes["nothing"] >= 1, outcomes  # the kill at 0 s always lands mid-creation
    # The next launch of a stranded target says what it removed and creates the campaign.
    stranded = next(run for run in range(len(delays)) if not (tmp_path / f"c{run}").exists())
    again = run_cli("launch", str(path), "--dir", str(tmp_path / f"c{stranded}"))
    assert again.returncode == 0, again.stderr
    assert "half-created campaign left by a killed launch" in again.stderr
    assert _whole(tmp_path / f"c{stranded}")
    assert not list(tmp_path.glob(f".c{stranded}.creating.*"))


@pytest.mark.slow
def test_two_launches_of_one_file_leave_one_campaign(tmp_path: Path) -> None:
    path = _big_design(tmp_path, wall_time="00:00:02")
    directory = tmp_path / "c"
    launches = [start_cli("launch", str(path), "--dir", str(directory)) for _ in range(2)]
    outputs = [p.communicate(timeout=180)[0] for p in launches]
    codes = sorted(p.returncode for p in launches)
    assert codes == [0, 2], outputs
    loser = outputs[[p.returncode for p in launches].index(2)]
    assert "already exists" in loser and loser.count("\n") == 1, loser
    assert _whole(directory)
    assert not list(tmp_path.glob(".c.creating.*"))


def _trial_processes(directory: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "workflows.entrypoint" in cmdline and any(str(directory) in c for c in cmdline):
            found.append(process)
    return found


def _end_one_of_two_held_trials(tmp_path: Path, end: Callable[[psutil.Process], None]
                                ) -> tuple[Path, int]:
    """Launch, hold two trials, `end` one trial's process, release: (directory, its number)."""
    path = write_campaign(tmp_path, campaign(trials=3, n_init=2))
    (tmp_path / "HOLD").touch()
    directory = tmp_path / "c"
    driver = start_cli("launch", str(path), "--dir", str(directory))
    try:
        wait_for(lambda: len(_trial_processes(directory)) == 2, 120, "two trials running")
        trial = _trial_processes(directory)[0]
        number = int(next(c for c in trial.cmdline() if "/trials/" in c).split("/trials/")[1]
                     .split("/")[0])
        end(trial)
        trial.wait(timeout=30)
        (tmp_path / "HOLD").unlink()  # the retry and the other trial run on
        out, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 0, out
    return directory, number


@pytest.mark.slow
def test_a_lost_worker_is_retried_and_the_retry_is_recorded(tmp_path: Path) -> None:
    # The Parsl worker running the trial is killed: the node's process is lost, the trial
    # dies with it.
    directory, number = _end_one_of_two_held_trials(tmp_path, lambda t: t.parent().kill())
    retried = load(directory).trials[number]
    assert retried.state == TrialState.COMPLETE
    [retry] = retried.user_attrs["retries"]
    assert "lost" in retry["reason"].lower() and retry["host"] == socket.gethostname()
    status = run_cli("status", str(directory))
    assert f"trial {number} retried 1x by the infrastructure on {socket.gethostname()}" \
        in status.stdout


def _worker_pools(directory: Path) -> list[psutil.Process]:
    found = []
    for process in leftovers.find(directory):
        try:
            if any("process_worker_pool" in part for part in process.cmdline()):
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.mark.slow
def test_trials_left_without_any_worker_stop_the_driver_and_resume_continues(
        tmp_path: Path) -> None:
    # Every block started after NOPOOL exists hangs before its worker pool starts, as a block
    # whose nodes cannot reach the driver would; the interchange itself stays up and answers.
    nopool = tmp_path / "NOPOOL"
    site = f"""
[site]
name = "local"
worker_init = "while [ -e {nopool} ]; do sleep 0.2; done"
[site.executor]
heartbeat_period = 1
heartbeat_threshold = 2
no_worker_timeout = 3
"""
    path = write_campaign(tmp_path, campaign(trials=3, n_init=2, extra=site))
    (tmp_path / "HOLD").touch()
    directory = tmp_path / "c"
    driver = start_cli("launch", str(path), "--dir", str(directory))
    try:
        wait_for(lambda: _running(directory) == 2 and len(list(tmp_path.glob("held-*"))) == 2,
                 120, "two trials running")
        nopool.touch()
        record = json.loads((directory / "driver.json").read_text())
        [interchange] = [pid for pid, _ in record["helpers"]]
        pools = _worker_pools(directory)
        assert pools
        for pool in pools:
            pool.kill()  # the pools, not the interchange: it answers, with no manager
        out, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == EXIT_FAULT, out
    said = [line for line in out.splitlines() if "no worker has been connected" in line]
    # One line says it, as it starts stopping (the last line repeats why, with what to do).
    assert said and said[0].endswith("recorded as interrupted"), out
    assert "for 3 s while 2 trial(s) wait" in said[0] and "no_worker_timeout" in said[0]
    assert "Traceback" not in out
    assert not psutil.pid_exists(interchange) or \
        psutil.Process(interchange).status() == psutil.STATUS_ZOMBIE
    assert _states(directory)["RUNNING"] == 0
    interrupted = [t for t in load(directory).get_trials() if t.user_attrs.get("interrupted")]
    assert len(interrupted) == 2
    assert all("no worker" in t.user_attrs["fail_reason"] for t in interrupted)
    assert leftovers.find(directory) == []
    nopool.unlink()
    (tmp_path / "HOLD").unlink()
    _resume_to_the_budget(directory, 3)


def test_launch_on_a_full_disk_is_one_line_and_leaves_nothing(
        tmp_path: Path, small_filesystem: Path) -> None:
    path = write_campaign(tmp_path, campaign())
    filler = _fill(small_filesystem)
    done = run_cli("launch", str(path), "--dir", str(small_filesystem / "c"))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == EXIT_FAULT and len(lines) == 1, done.stderr
    assert lines[0].startswith("hpsearch: error: disk full") and "run the command again" \
        in lines[0], lines
    assert sorted(p.name for p in small_filesystem.iterdir()) == [filler.name]


def test_a_full_disk_leaves_no_temporary_driver_record(small_filesystem: Path) -> None:
    directory = small_filesystem / "c"
    directory.mkdir()
    leftovers.claim(directory)
    leftovers.release(directory)
    record = (directory / "driver.json").read_bytes()
    filler = _fill(small_filesystem)
    with pytest.raises(OSError) as raised:
        leftovers.claim(directory)  # the next driver's record cannot be written
    assert raised.value.errno == errno.ENOSPC
    assert sorted(p.name for p in directory.iterdir()) == ["driver.json"]
    assert (directory / "driver.json").read_bytes() == record
    filler.unlink()
    leftovers.claim(directory)
    assert json.loads((directory / "driver.json").read_text())["pid"] == os.getpid()
    leftovers.release(directory)


@pytest.mark.slow
def test_a_trial_ended_by_sigterm_is_retried_not_failed(tmp_path: Path) -> None:
    # A batch system cancelling or pre-empting a job sends SIGTERM to every process in it;
    # the worker may report its dead trial before it gets its own. That trial is retried.
    # Here the trial only is ended: its worker lives on and reports it.
    directory, number = _end_one_of_two_held_trials(tmp_path, lambda t: t.terminate())
    retried = load(directory).trials[number]
    assert retried.state == TrialState.COMPLETE, retried.user_attrs
    [retry] = retried.user_attrs["retries"]
    assert "TrialTerminated" in retry["reason"] and "SIGTERM" in retry["reason"], retry
    assert retry["host"] == socket.gethostname()
