"""Helpers for the campaign (spine) tests: write campaign files, run the CLI, read the study."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import optuna

# A campaign's own objective module, written next to the campaign file: trials import it
# because the campaign file's folder is on their PYTHONPATH.
OBJECTIVES = '''
import math, os, pathlib, time

# Once a test creates HOLD, the next two trials hang until it is removed (later ones run on).
HOLD = pathlib.Path(__file__).with_name("HOLD")

def branin(params):
    x, y = params["x"], params["y"]
    time.sleep(params.get("sleep", 0.0))
    if HOLD.exists():
        HOLD.with_name(f"held-{os.getpid()}").touch()
        if len(list(HOLD.parent.glob("held-*"))) <= 2:
            while HOLD.exists():
                time.sleep(0.05)
    return (y - 5.1 / (4 * math.pi ** 2) * x ** 2 + 5 / math.pi * x - 6) ** 2 \\
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10

def by_mode(params):
    mode = params["mode"]
    if mode == "raise":
        raise ValueError("bad luck with " + mode)
    if mode == "nan":
        return float("nan")
    if mode == "exit":
        raise SystemExit(7)
    return 1.5

def slow(params):
    time.sleep(60)
    return 0.0
'''


BRANIN_SPACE = """x = { type = "float", low = -5.0, high = 10.0 }
y = { type = "float", low = 0.0, high = 15.0 }"""


def branin_campaign(name: str = "f", *, seed: int = 3, trials: int = 3, top: str = "",
                    entrypoint: str = "objectives:branin", space: str = BRANIN_SPACE) -> str:
    """The tests' usual campaign file: `top` holds the lines before `[objective]`."""
    return f"""
name = "{name}"
seed = {seed}
{top}[objective]
entrypoint = "{entrypoint}"
[search_space]
{space}
[budget]
trials = {trials}
"""


def campaign_text(body: str) -> str:
    tomllib.loads(body)  # a typo in a test's campaign would otherwise read as a finding
    return body


def write_campaign(folder: Path, body: str, name: str = "campaign.toml") -> Path:
    """Write `objectives.py` and a campaign file into `folder`; returns the file's path."""
    (folder / "objectives.py").write_text(OBJECTIVES)
    path = folder / name
    path.write_text(campaign_text(body))
    return path


def cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hpsearch.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=_env())


def start_cli(*args: str, cwd: Path | None = None) -> subprocess.Popen:
    """The CLI in its own process group, so a test can signal it like a shell would."""
    return subprocess.Popen([sys.executable, "-m", "hpsearch.cli", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=_env())


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("HPSEARCH_CAMPAIGN_DIR", None)
    return env


def load(directory: Path) -> optuna.Study:
    storage = optuna.storages.RDBStorage(
        f"sqlite:///file:{(directory / 'campaign.db').resolve()}?mode=ro&uri=true",
        skip_table_creation=True)
    name = optuna.get_all_study_names(storage)[0]
    return optuna.load_study(study_name=name, storage=storage)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def completed_results(directory: Path, trials: int) -> list[tuple[optuna.trial.FrozenTrial,
                                                                     dict]]:
    """Each trial of a finished campaign with its result file; all `trials` COMPLETE and
    finite."""
    found = load(directory).get_trials()
    assert len(found) == trials
    assert all(t.state == optuna.trial.TrialState.COMPLETE and math.isfinite(t.value)
               for t in found), [(t.state, t.value) for t in found]
    return [(t, json.loads((directory / "trials" / str(t.number) / "result.json").read_text()))
            for t in found]
