"""A campaign pointed at a larcv3 cosmic-tag file: the real CLI, driver, Parsl and SQLite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from spine_helpers import cli, completed_results, write_campaign

from models.data import ImageMeta, generate_events, write_larcv3


@pytest.mark.slow
def test_campaign_on_a_cosmic_tag_file(tmp_path: Path) -> None:
    data = write_larcv3(tmp_path / "cosmictag.h5",
                        generate_events("2d", np.random.default_rng(3), 8, size=64),
                        ImageMeta((64, 64)))
    path = write_campaign(tmp_path, f"""
name = "cosmic"
seed = 4
n_init = 2
concurrency = 1
[objective]
model = "uresnet2d"
data = "{data}"
labels = "origin"
epochs = 1
steps_per_epoch = 2
[search_space]
lr = {{ type = "float", low = 0.001, high = 0.01, log = true }}
depth = {{ type = "int", low = 2, high = 3 }}
filters = {{ type = "int", low = 4, high = 8 }}
[budget]
trials = 2
""")
    done = cli("launch", str(path), "--dir", str(tmp_path / "c"), timeout=600)
    assert done.returncode == 0, done.stderr
    for _trial, result in completed_results(tmp_path / "c", 2):
        assert result["labels"] == "origin" and result["metric"] == "tag_error"
        assert {"iou_cosmic", "iou_neutrino"} <= set(result["metrics"])


def test_objective_labels_reach_the_trial_command(tmp_path: Path) -> None:
    from hpsearch.errors import UserError
    from hpsearch.objective import Objective, TrialPaths

    chosen = Objective.from_mapping({"model": "uresnet2d", "labels": "origin"})
    command = chosen.trial_command(TrialPaths(tmp_path / "0"), 1, tmp_path)
    assert command[command.index("--labels") + 1] == "origin"
    default = Objective.from_mapping({"model": "uresnet2d"})
    assert "--labels" not in default.trial_command(TrialPaths(tmp_path / "0"), 1, tmp_path)
    for bad in ("pid", 3):
        with pytest.raises(UserError, match='objective.labels: must be "semantic" or "origin"'):
            Objective.from_mapping({"model": "uresnet2d", "labels": bad})
