"""The fault suite: a user's faults and mistakes against real processes, each ending in its
documented state (README, "Reliability")."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from spine_helpers import _env, load, write_campaign

from hpsearch.cli import main

BRANIN = """x = { type = "float", low = -5.0, high = 10.0 }
y = { type = "float", low = 0.0, high = 15.0 }"""


def campaign(entrypoint: str = "objectives:branin", trials: int = 3, n_init: int = 2,
             extra: str = "", space: str = BRANIN) -> str:
    return f"""
name = "f"
seed = 3
n_init = {n_init}
concurrency = 2
{extra}
[objective]
entrypoint = "{entrypoint}"
[search_space]
{space}
[budget]
trials = {trials}
"""


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
