"""Campaign directories an older `launch` left half-created when it was killed: each state it
could stop in, built step by step as it built them (real SQLite, real Optuna), and what
`resume` and `launch` make of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from spine_helpers import branin_campaign, cli, load, write_campaign

from hpsearch.campaign import Campaign, load_campaign
from hpsearch.campaign_create import create_campaign
from hpsearch.campaign_setup import resolve_site
from hpsearch.cli import main
from hpsearch.locate import DB_FILENAME, sqlite_url
from hpsearch.storage import create_sqlite_file, open_storage

CAMPAIGN = branin_campaign("h", seed=5, trials=3, top="n_init = 2\nconcurrency = 2\n")


def _folder(directory: Path) -> None:
    (directory / "trials").mkdir(parents=True)


def _database(directory: Path) -> None:
    _folder(directory)
    create_sqlite_file(directory / DB_FILENAME)


def _storage(directory: Path) -> optuna.storages.RDBStorage:
    return open_storage(sqlite_url(directory / DB_FILENAME))


def _tables(directory: Path) -> None:
    _database(directory)
    _storage(directory).engine.dispose()


def _study(directory: Path) -> optuna.Study:
    _database(directory)
    return optuna.create_study(storage=_storage(directory), study_name="h")


STATES: dict[str, tuple[Callable[[Path], object], str]] = {
    "empty database": (_database, "no tables"),
    "tables, no study": (_tables, "no study"),
    "study, no attributes": (_study, "a study without the campaign's attributes"),
}


@pytest.mark.parametrize("state", STATES, ids=list(STATES))
def test_resume_removes_a_campaign_that_was_never_recorded_and_says_launch(
        tmp_path: Path, capsys, state: str) -> None:
    make, missing = STATES[state]
    directory = tmp_path / "c"
    make(directory)
    code = main(["resume", str(directory)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert f"removed {directory}: a campaign half-created by a killed launch ({missing}" \
        in lines[0]
    assert f"launch it again: hpsearch launch CAMPAIGN.toml --dir {directory}" in lines[0]
    assert not directory.exists()


@pytest.mark.parametrize("state", STATES, ids=list(STATES))
def test_launch_replaces_a_campaign_that_was_never_recorded(tmp_path: Path, state: str) -> None:
    make, missing = STATES[state]
    campaign = load_campaign(write_campaign(tmp_path, CAMPAIGN))
    directory = tmp_path / "c"
    make(directory)
    said: list[str] = []
    storage = create_campaign(campaign, resolve_site(campaign), directory, CAMPAIGN,
                              log=said.append)
    assert said == [f"removed {directory}: a campaign half-created by a killed launch "
                    f"({missing}; no trial had run)"]
    study = optuna.load_study(study_name="h", storage=storage)
    assert "site" in study.user_attrs and len(study.trials) == 2


def _ran_a_trial(directory: Path) -> None:
    study = _study(directory)
    study.tell(study.ask(), 1.0)


def _foreign_file(directory: Path) -> None:
    _database(directory)
    (directory / "notes.txt").write_text("mine\n")


def _no_database(directory: Path) -> None:
    _folder(directory)  # as a campaign kept on a database server has it


def _trial_folder(directory: Path) -> None:
    _database(directory)
    (directory / "trials" / "0").mkdir()


@pytest.mark.parametrize("make", [_ran_a_trial, _foreign_file, _trial_folder, _no_database],
                         ids=["a trial ran", "another file", "a trial folder", "no database"])
def test_a_directory_holding_anything_more_is_never_removed(tmp_path: Path, capsys,
                                                            make) -> None:
    directory = tmp_path / "c"
    make(directory)
    before = _kept(directory)
    assert main(["resume", str(directory)]) == 2
    assert "removed" not in capsys.readouterr().err
    campaign = load_campaign(write_campaign(tmp_path, CAMPAIGN))
    assert main(["launch", str(tmp_path / "campaign.toml"), "--dir", str(directory)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert campaign.name == "h"
    assert _kept(directory) == before


def _kept(directory: Path) -> list[Path]:
    # SQLite's -wal and -shm files come and go with connections.
    return sorted(p.relative_to(directory) for p in directory.rglob("*")
                  if not p.name.endswith(("-wal", "-shm")))


@pytest.mark.slow
def test_resume_fills_in_what_a_launch_killed_after_the_campaign_attribute_missed(
        tmp_path: Path) -> None:
    campaign: Campaign = load_campaign(write_campaign(tmp_path, CAMPAIGN))
    directory = tmp_path / "c"
    _study(directory).set_user_attr("campaign", campaign.to_dict())  # then the kill
    done = cli("resume", str(directory), timeout=180)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if line.startswith("repaired")]
    assert said == [f"repaired {directory.resolve()}: a campaign half-created by a killed "
                    "launch; filled in its site, hpsearch_version, directory (the design is "
                    "completed below)"], done.stderr
    assert "2 design points enqueued" in done.stderr
    study = load(directory)
    assert study.user_attrs["site"]["name"] == "local"
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert sorted(t.user_attrs.get("lhs_index", -1) for t in study.trials) == [-1, 0, 1]


@pytest.mark.slow
def test_the_cli_launch_replaces_a_stranded_directory_in_one_line(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, CAMPAIGN)
    directory = tmp_path / "c"
    _study(directory)
    done = cli("launch", str(path), "--dir", str(directory), timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("half-created") == 1, done.stderr
    assert [t.state for t in load(directory).trials] == [TrialState.COMPLETE] * 3
