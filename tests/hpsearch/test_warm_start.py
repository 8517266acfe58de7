"""Warm start: earlier campaigns' finished trials as priors, outside the budget, not re-run."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from optuna.trial import TrialState
from spine_helpers import OBJECTIVES, cli, load

import hpsearch
from hpsearch.cli import main
from hpsearch.lhs import latin_hypercube
from hpsearch.space import SearchSpace
from hpsearch.warm_start import Prior, design_skipped, fits

SPACE = SearchSpace.from_mapping({"x": {"type": "float", "low": -5.0, "high": 10.0},
                                  "n": {"type": "int", "low": 1, "high": 8, "step": 1},
                                  "act": ["relu", "gelu"]})


def test_fits_only_the_same_names_inside_the_new_ranges() -> None:
    assert fits(SPACE, {"x": 0.5, "n": 3, "act": "gelu"})
    assert not fits(SPACE, {"x": 11.0, "n": 3, "act": "gelu"})      # outside the range
    assert not fits(SPACE, {"x": 0.5, "n": 3.5, "act": "gelu"})     # not an integer
    assert not fits(SPACE, {"x": 0.5, "n": 3, "act": "silu"})       # not a choice
    assert not fits(SPACE, {"x": 0.5, "n": 3})                      # a name missing
    assert not fits(SPACE, {"x": 0.5, "n": 3, "act": "relu", "lr": 0.1})  # one too many


def test_each_prior_takes_the_place_of_its_nearest_design_point() -> None:
    design = latin_hypercube(SPACE, 6, seed=3)
    priors = [Prior("a", i, dict(design[i]), (1.0,), {}) for i in (4, 1)]
    assert design_skipped(SPACE, design, priors) == {1, 4}
    many = [Prior("a", i, dict(design[0]), (1.0,), {}) for i in range(9)]
    assert design_skipped(SPACE, design, many) == set(range(6))  # n_init reached: no design
    assert design_skipped(SPACE, design, []) == set()


def test_an_unreadable_earlier_campaign_is_one_line_and_nothing_is_created(
        tmp_path: Path, capsys) -> None:
    (tmp_path / "m.py").write_text("def f(params):\n    return 0.0\n")  # a loadable objective
    path = tmp_path / "b.toml"
    path.write_text('warm_start = ["nowhere"]\n[objective]\nentrypoint = "m:f"\n'
                    '[search_space]\nx = [1, 2]\n[budget]\ntrials = 2\n')
    assert main(["launch", str(path), "--dir", str(tmp_path / "b")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "warm_start: nowhere" in lines[0]
    assert not (tmp_path / "b").exists()
    path.write_text(path.read_text().replace('["nowhere"]', "3"))
    assert main(["launch", str(path), "--dir", str(tmp_path / "b")]) == 2
    assert "warm_start: must be a list" in capsys.readouterr().err


@pytest.mark.slow
def test_a_warm_started_campaign_reaches_the_earlier_best_in_fewer_new_trials(
        tmp_path: Path) -> None:
    (tmp_path / "objectives.py").write_text(OBJECTIVES)
    earlier = {
        "name": "a", "seed": 2, "n_init": 5, "concurrency": 1,
        "objective": {"entrypoint": "objectives:branin"},
        "search_space": {"x": {"type": "float", "low": -5.0, "high": 10.0},
                         "y": {"type": "float", "low": 0.0, "high": 15.0}},
        "budget": {"trials": 12},
    }
    hpsearch.Campaign.from_dict(earlier, source_dir=tmp_path).launch(tmp_path / "a", quiet=True)
    a = load(tmp_path / "a").get_trials()
    a_best = min(t.value for t in a)
    a_needed = 1 + min(t.number for t in a if t.value == a_best)  # new trials A ran to get there

    (tmp_path / "b.toml").write_text("""
name = "b"
seed = 9
n_init = 5
concurrency = 1
warm_start = ["a"]
[objective]
entrypoint = "objectives:branin"
[search_space]
x = { type = "float", low = -5.0, high = 10.0 }
y = { type = "float", low = 0.0, high = 15.0 }
[budget]
trials = 4
""")
    done = cli("launch", str(tmp_path / "b.toml"), "--dir", str(tmp_path / "b"))
    assert done.returncode == 0, done.stderr
    assert "warm start: 12 prior trials from 1 earlier campaign" in done.stderr
    b = load(tmp_path / "b").get_trials()
    priors = [t for t in b if t.user_attrs["source"] == "warm_start"]
    new = [t for t in b if t.user_attrs["source"] != "warm_start"]
    assert len(priors) == 12 and len(new) == 4  # priors are outside the budget
    assert {(t.params["x"], t.params["y"], t.value) for t in priors} == {
        (t.params["x"], t.params["y"], t.value) for t in a}
    assert not (tmp_path / "b" / "trials" / "0").exists()  # priors were not run again
    assert all(t.user_attrs["warm_start_from"] == "a" for t in priors)
    assert not [t for t in new if t.user_attrs["source"] == "lhs"]  # 12 priors >= n_init
    assert all(t.state == TrialState.COMPLETE for t in new)

    # The earlier best is there before any new trial; A needed a_needed trials to find it.
    b_needed = min(i for i in range(len(new) + 1)
                   if min([t.value for t in priors] + [t.value for t in new[:i]]) <= a_best)
    assert b_needed == 0 < a_needed
    # And the new trials start where A ended, not from scratch.
    assert min(t.value for t in new) < statistics.median(t.value for t in a[:4])

    status = cli("status", str(tmp_path / "b"))
    assert "budget: 4/4 trials used" in status.stdout
    assert "12 prior trials from a warm start" in status.stdout

    # A design the priors cannot cover within the budget is refused before anything exists.
    text = (tmp_path / "b.toml").read_text().replace("n_init = 5", "n_init = 20")
    (tmp_path / "c.toml").write_text(text.replace('name = "b"', 'name = "c"'))
    refused = cli("launch", str(tmp_path / "c.toml"), "--dir", str(tmp_path / "c"))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "hpsearch: error: n_init: 8 design points left after 12 warm-start priors but "
        "budget.trials is 4; lower n_init or raise the budget"]
    assert not (tmp_path / "c").exists()
