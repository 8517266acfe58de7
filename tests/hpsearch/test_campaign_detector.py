"""Built-in campaigns on generated wire-detector events: `[objective] detector`, checked at
launch, reaching the generator; the real CLI, driver, Parsl and SQLite for a whole run."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from spine_helpers import cli, completed_results, write_campaign

from hpsearch.errors import UserError
from hpsearch.objective import Objective

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cosmic_tagging.toml"


def test_detector_options_reach_the_generated_file(tmp_path: Path) -> None:
    objective = Objective.from_mapping({
        "model": "uresnet2d", "labels": "origin", "detector": "sbnd-wire", "size": 256,
        "events": 3, "neutrino_fraction": 0.5})
    assert objective.metric == "tag_error"  # the cosmic-tagging objective by default
    assert objective.to_dict()["detector"] == "sbnd-wire"
    objective.prepare(tmp_path, seed=1, log=lambda line: None)
    with h5py.File(tmp_path / "data" / "train.h5", "r") as f:
        assert f.attrs["detector"] == "sbnd-wire" and f.attrs["units"] == "ADC"
        assert list(f.attrs["spatial_shape"]) == [160, 256] and f.attrs["n_events"] == 3
        assert f.attrs["neutrino_fraction"] == 0.5


def test_defaults_stay_the_cube_and_icpf() -> None:
    objective = Objective.from_mapping({"model": "uresnet2d"})
    assert objective.metric == "icpf_mean"
    assert objective.options["detector"] == "cube"
    assert objective.options["neutrino_fraction"] == 1.0


@pytest.mark.parametrize("table, words", [
    ({"model": "uresnet2d", "detector": "dune"},
     "objective.detector: unknown preset 'dune'; choose one of cube, sbnd-wire"),
    ({"model": "uresnet3d", "detector": "sbnd-wire"},
     "objective.detector: sbnd-wire makes 2D segmentation events; model uresnet3d needs"),
    ({"model": "resnet2d", "labels": "origin"},
     "objective.labels: model resnet2d learns each event's particle"),
    ({"model": "resnet2d", "neutrino_fraction": 0.5},
     "objective.neutrino_fraction: model resnet2d trains on single-particle events"),
    ({"model": "uresnet2d", "neutrino_fraction": 1.5},
     "objective.neutrino_fraction: must be a number in [0, 1], got 1.5"),
    ({"model": "uresnet2d", "detector": 3}, "objective.detector: must be a string, got 3"),
    ({"model": "uresnet2d", "data": "real.h5", "detector": "sbnd-wire"},
     "objective.detector: shapes generated events, but objective.data names an existing"),
])
def test_options_a_model_cannot_take_are_refused(table: dict, words: str) -> None:
    with pytest.raises(UserError) as caught:
        Objective.from_mapping(table)
    assert str(caught.value).startswith(words) and "\n" not in str(caught.value)


def test_unknown_preset_at_launch_is_one_line_exit_2(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, """
[objective]
model = "uresnet2d"
detector = "sbnd_wire"
[search_space]
lr = { type = "float", low = 0.001, high = 0.01, log = true }
[budget]
trials = 2
""")
    done = cli("launch", str(path), "--dir", str(tmp_path / "c"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "objective.detector: unknown preset" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "c").exists()


def test_the_example_is_a_valid_wire_campaign() -> None:
    import hpsearch

    spec = hpsearch.Campaign.from_file(EXAMPLE).to_dict()
    assert spec["objective"]["detector"] == "sbnd-wire"
    assert spec["objective"]["labels"] == "origin" and spec["objective"]["metric"] == "tag_error"


@pytest.mark.slow
def test_campaign_on_generated_wire_events(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, """
name = "wire"
seed = 2
n_init = 2
concurrency = 1
[objective]
model = "uresnet2d"
labels = "origin"
detector = "sbnd-wire"
size = 256
neutrino_fraction = 0.5
events = 10
epochs = 2
steps_per_epoch = 2
[search_space]
lr = { type = "float", low = 0.003, high = 0.01, log = true }
depth = { type = "int", low = 3, high = 4 }
filters = { type = "int", low = 4, high = 8 }
class_weights = ["none", "sqrt"]
[budget]
trials = 2
""")
    done = cli("launch", str(path), "--dir", str(tmp_path / "c"), timeout=600)
    assert done.returncode == 0, done.stderr
    with h5py.File(tmp_path / "c" / "data" / "train.h5", "r") as f:
        assert f.attrs["detector"] == "sbnd-wire" and list(f.attrs["spatial_shape"]) == [160, 256]
    for trial, result in completed_results(tmp_path / "c", 2):
        assert result["labels"] == "origin" and result["metric"] == "tag_error"
        assert result["objective"] == pytest.approx(trial.value)
        assert {"iou_cosmic", "iou_neutrino", "neutrino_efficiency"} <= set(result["metrics"])
