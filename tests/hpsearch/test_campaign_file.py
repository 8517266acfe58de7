"""Campaign files: every mistake is one line naming the field, exit code 2, nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest
from spine_helpers import branin_campaign

from hpsearch.campaign import Campaign, load_campaign
from hpsearch.cli import main

GOOD = branin_campaign("good", trials=4)


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


# (case, campaign text or None for "no such file", a field the message must name)
CASES = [
    ("unknown key", GOOD + "colour = 'red'\n", "colour"),
    ("unknown key deep", _replace("[budget]", "[budget]\nhours = 3"), "budget.hours"),
    ("wrong type", _replace("seed = 3", 'seed = "three"'), "seed"),
    ("negative n_init", _replace("seed = 3", "n_init = -1"), "n_init"),
    ("empty range", _replace("low = -5.0, high = 10.0", "low = 1.0, high = 1.0"),
     "search_space.x"),
    ("inverted range", _replace("low = -5.0, high = 10.0", "low = 10.0, high = -5.0"),
     "search_space.x"),
    ("log range <= 0", _replace("low = 0.0, high = 15.0", "low = 0.0, high = 15.0, log = true"),
     "search_space.y"),
    ("empty choices", _replace('y = { type = "float", low = 0.0, high = 15.0 }',
                               'y = { type = "categorical", choices = [] }'),
     "search_space.y.choices"),
    ("missing objective", _replace('[objective]\nentrypoint = "objectives:branin"\n', ""),
     "objective"),
    ("two objectives", _replace('entrypoint = "objectives:branin"',
                                'entrypoint = "objectives:branin"\ncommand = ["x", "{out}"]'),
     "objective.command"),
    ("bad entrypoint", _replace('"objectives:branin"', '"objectives.branin"'),
     "objective.entrypoint"),
    ("bad direction", _replace("[objective]", '[objective]\ndirection = "down"'),
     "objective.direction"),
    ("unknown sampler", GOOD.replace("seed = 3", 'seed = 3\nsampler = "cma"'), "sampler"),
    ("unknown pruner", GOOD.replace("seed = 3", 'seed = 3\npruner = "sometimes"'), "pruner"),
    ("missing budget", _replace("[budget]\ntrials = 4\n", ""), "budget"),
    ("bad wall time", _replace("trials = 4", 'wall_time = "90 minutes"'), "budget.wall_time"),
    ("zero trials", _replace("trials = 4", "trials = 0"), "budget.trials"),
    ("unknown site", GOOD + '[site]\nname = "nowhere"\n', "nowhere"),
    ("too much concurrency", _replace("seed = 3", "seed = 3\nconcurrency = 999"), "concurrency"),
    ("bad storage", _replace("seed = 3", 'seed = 3\nstorage = "campaign.db"'), "storage"),
    ("not toml", "name = \n", "TOML"),
    ("unreadable file", None, "no such campaign file"),
]


@pytest.mark.parametrize("case,text,field", CASES, ids=[c[0] for c in CASES])
def test_mistake_is_one_line_exit_2_nothing_created(tmp_path: Path, monkeypatch, capsys,
                                                     case: str, text: str | None,
                                                     field: str) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "campaign.toml"
    if text is not None:
        path.write_text(text)
    before = sorted(tmp_path.iterdir())
    code = main(["launch", str(path), "--dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hpsearch: error: ")
    assert field in lines[0], lines[0]
    assert sorted(tmp_path.iterdir()) == before  # nothing created, not even --dir


def test_existing_directory_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "campaign.toml"
    path.write_text(GOOD)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    assert main(["launch", str(path), "--dir", str(tmp_path / "out")]) == 2
    assert "hpsearch resume" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["keep.txt"]


def test_defaults_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "campaign.toml"
    path.write_text(GOOD)
    campaign = load_campaign(path)
    assert campaign.n_init == 4  # the default 2 * 2 + 1, shrunk to budget.trials = 4
    # sampler "auto": a continuous space and 4 trials make it the GP, stored resolved.
    assert (campaign.sampler, campaign.pruner, campaign.site.name) == ("gp", "none", "local")
    assert campaign.objective.metric == "objective"
    assert campaign.objective.direction == "minimize"
    assert campaign.source_dir == str(tmp_path.resolve())
    assert Campaign.from_dict(campaign.to_dict()) == campaign


def test_help_teaches(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("launch", "resume", "best", "status", "examples:"):
        assert command in out
