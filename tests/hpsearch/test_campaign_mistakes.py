"""Malformed campaign files, one table: each is exit 2, one line naming the field, and
nothing created or modified (the folder tree and every file's bytes are as before)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from spine_helpers import OBJECTIVES, branin_campaign

from hpsearch.campaign import MAX_FILE_BYTES
from hpsearch.cli import main

GOOD = branin_campaign("good", trials=4, top="n_init = 3\n")


def _sub(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new)


def _add(line: str) -> str:
    return _sub("seed = 3", f"seed = 3\n{line}")


SPACE_X = 'x = { type = "float", low = -5.0, high = 10.0 }'

# (case id, campaign file bytes, a text the one line must hold)
TABLE: list[tuple[str, str | bytes, str]] = [
    ("unknown top key", GOOD + "colour = 'red'\n", "colour"),
    ("name with slash", _sub('name = "good"', 'name = "a/b"'), "name"),
    ("name empty", _sub('name = "good"', 'name = ""'), "name"),
    ("name a number", _sub('name = "good"', "name = 7"), "name"),
    ("storage a path", _add('storage = "campaign.db"'), "storage"),
    ("storage a number", _add("storage = 5"), "storage"),
    ("seed a string", _sub("seed = 3", 'seed = "three"'), "seed"),
    ("seed negative", _sub("seed = 3", "seed = -1"), "seed"),
    ("seed a bool", _sub("seed = 3", "seed = true"), "seed"),
    ("n_init negative", _sub("n_init = 3", "n_init = -1"), "n_init"),
    ("n_init a float", _sub("n_init = 3", "n_init = 2.5"), "n_init"),
    ("n_init above the budget", _sub("n_init = 3", "n_init = 40"), "n_init"),
    ("sampler unknown", _add('sampler = "cma"'), "sampler"),
    ("pruner unknown", _add('pruner = "sometimes"'), "pruner"),
    ("concurrency zero", _add("concurrency = 0"), "concurrency"),
    ("concurrency above slots", _add("concurrency = 999"), "concurrency"),
    ("objective missing", _sub('[objective]\nentrypoint = "objectives:branin"\n', ""),
     "objective"),
    ("objective not a table", _sub('[objective]\nentrypoint = "objectives:branin"\n',
                                   'objective = "branin"\n'), "objective"),
    ("two objective kinds", _sub('entrypoint = "objectives:branin"',
                                 'entrypoint = "objectives:branin"\ncommand = ["x", "{out}"]'),
     "objective"),
    ("entrypoint without function", _sub('"objectives:branin"', '"objectives.branin"'),
     "objective.entrypoint"),
    ("entrypoint module missing", _sub('"objectives:branin"', '"no_such_module:f"'),
     "objective.entrypoint"),
    ("entrypoint function missing", _sub('"objectives:branin"', '"objectives:nothing"'),
     "objective.entrypoint"),
    ("entrypoint not callable", _sub('"objectives:branin"', '"objectives:HOLD"'),
     "objective.entrypoint"),
    ("direction unknown", _sub("[objective]", '[objective]\ndirection = "down"'),
     "objective.direction"),
    ("search space missing", _sub(SPACE_X + "\n", "").replace(
        '[search_space]\ny = { type = "float", low = 0.0, high = 15.0 }\n', ""),
     "search_space"),
    ("empty range", _sub("low = -5.0, high = 10.0", "low = 1.0, high = 1.0"), "search_space.x"),
    ("inverted range", _sub("low = -5.0, high = 10.0", "low = 10.0, high = -5.0"),
     "search_space.x"),
    ("log range at zero", _sub("low = 0.0, high = 15.0", "low = 0.0, high = 15.0, log = true"),
     "search_space.y"),
    ("unknown dimension type", _sub('type = "float", low = -5.0', 'type = "complex", low = -5.0'),
     "search_space.x"),
    ("dimension not a table", _sub(SPACE_X, "x = 3"), "search_space.x"),
    ("empty choices", _sub(SPACE_X, 'x = { type = "categorical", choices = [] }'),
     "search_space.x"),
    ("budget missing", _sub("[budget]\ntrials = 4\n", ""), "budget"),
    ("budget empty", _sub("trials = 4\n", ""), "budget"),
    ("budget unknown key", _sub("[budget]", "[budget]\nhours = 3"), "budget.hours"),
    ("budget trials zero", _sub("trials = 4", "trials = 0"), "budget.trials"),
    ("budget trials a string", _sub("trials = 4", 'trials = "4"'), "budget.trials"),
    ("wall time in words", _sub("trials = 4", 'wall_time = "90 minutes"'), "budget.wall_time"),
    ("wall time 99:99:99", _sub("trials = 4", 'wall_time = "99:99:99"'), "budget.wall_time"),
    ("wall time zero", _sub("trials = 4", 'wall_time = "00:00:00"'), "budget.wall_time"),
    ("wall time over a year", _sub("trials = 4", 'wall_time = "9000:00:00"'),
     "budget.wall_time"),
    ("wall time a number", _sub("trials = 4", "wall_time = 3600"), "budget.wall_time"),
    ("site unknown", GOOD + '[site]\nname = "nowhere"\n', "nowhere"),
    ("site a number", GOOD + "site = 3\n", "site"),
    ("site file missing", GOOD + '[site]\nname = "x"\nfile = "no_such_site.toml"\n',
     "no_such_site.toml"),
    ("no-worker limit zero", GOOD + '[site]\nname = "local"\n[site.executor]\n'
     "no_worker_timeout = 0\n", "[site.executor].no_worker_timeout"),
    ("no-worker limit text", GOOD + '[site]\nname = "local"\n[site.executor]\n'
     'no_worker_timeout = "10 min"\n', "[site.executor].no_worker_timeout"),
    ("no-worker limit under the poll period", GOOD + '[site]\nname = "polaris"\n'
     'account = "p"\n[site.executor]\nno_worker_timeout = 30\n',
     "[executor].no_worker_timeout (30 s) must be longer than [scheduler].poll_period (60 s)"),
    ("not TOML", "name = \n", "TOML"),
    ("duplicate key", _add("seed = 4"), "TOML"),
    ("byte-order mark", b"\xef\xbb\xbf" + GOOD.encode(), "byte-order mark"),
    ("latin-1 byte", GOOD.replace('"good"', '"g\xe9"').encode("latin-1"), "UTF-8"),
    ("too large", GOOD + "# " + "x" * MAX_FILE_BYTES + "\n", "KiB"),
]
CASES = [(case, text.encode() if isinstance(text, str) else text, field)
         for case, text, field in TABLE]


def _tree(folder: Path) -> dict[str, str]:
    """Every path under `folder` with its bytes' digest (folders: 'dir')."""
    return {str(p.relative_to(folder)): "dir" if p.is_dir()
            else hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))}


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case,data,field", CASES, ids=[c[0] for c in CASES])
def test_a_malformed_campaign_is_one_line_exit_2_and_changes_nothing(
        tmp_path: Path, monkeypatch, capsys, case: str, data: bytes, field: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "objectives.py").write_text(OBJECTIVES)
    path = tmp_path / "campaign.toml"
    path.write_bytes(data)
    before = _tree(tmp_path)
    code = main(["launch", str(path), "--dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hpsearch: error: ")
    assert field in lines[0], lines[0]
    assert _tree(tmp_path) == before  # nothing created (not even --dir), nothing modified
