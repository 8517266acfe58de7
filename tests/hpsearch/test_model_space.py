"""A built-in model's search space is checked at launch: one line naming the field, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

import hpsearch
from hpsearch.cli import main

GOOD = """
name = "seg"
[objective]
model = "uresnet2d"
[search_space]
lr = { type = "float", low = 3e-4, high = 1e-2, log = true }
kernel_size = { type = "int", low = 3, high = 7, step = 2 }
depth = { type = "int", low = 3, high = 5 }
optimizer = ["adam", "sgd"]
[budget]
trials = 4
"""

# (case, replaced text, replacement, what the line must say)
CASES = [
    ("misspelt name", "lr = {", "lrr = {", "search_space.lrr: model uresnet2d has no such"),
    ("even kernel size", "low = 3, high = 7, step = 2", "low = 3, high = 7",
     "search_space.kernel_size.step: 4 is not accepted; int in [1, 7], odd"),
    ("depth too large", "low = 3, high = 5 }", "low = 3, high = 12 }",
     "search_space.depth.high: 9 is not accepted; int in [1, 8]"),
    ("lr out of range", "high = 1e-2, log", "high = 20.0, log", "search_space.lr.high"),
    ("unknown choice", '["adam", "sgd"]', '["adam", "lion"]',
     "search_space.optimizer.choices: 'lion' is not accepted; one of adam, adamw, sgd"),
    ("float for an int", "depth = { type = \"int\"", "depth = { type = \"float\"",
     'search_space.depth.type: must be "int"'),
]


@pytest.mark.parametrize("case,old,new,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_space_is_one_line_before_anything_is_created(tmp_path: Path, capsys, case: str,
                                                           old: str, new: str,
                                                           expected: str) -> None:
    assert old in GOOD
    path = tmp_path / "seg.toml"
    path.write_text(GOOD.replace(old, new, 1))
    assert main(["launch", str(path), "--dir", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_the_api_checks_the_same(tmp_path: Path) -> None:
    import tomllib

    table = tomllib.loads(GOOD)
    assert hpsearch.Campaign.from_dict(table).spec.space.names[1] == "kernel_size"
    table["search_space"]["dropout"] = {"type": "float", "low": 0.0, "high": 1.0}
    with pytest.raises(hpsearch.UserError, match=r"search_space.dropout.high: 1.0 is not"):
        hpsearch.Campaign.from_dict(table)


def test_other_objectives_keep_any_names() -> None:
    table = {"objective": {"entrypoint": "workflows.examples:branin"},
             "search_space": {"lrr": {"type": "float", "low": 0.0, "high": 20.0}},
             "budget": {"trials": 2}}
    assert hpsearch.Campaign.from_dict(table).spec.space.names == ("lrr",)
