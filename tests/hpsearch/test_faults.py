"""The fault suite: a user's faults and mistakes against real processes, each ending in its
documented state (README, "Reliability")."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from optuna.trial import TrialState
from spine_helpers import _env, load, write_campaign

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
