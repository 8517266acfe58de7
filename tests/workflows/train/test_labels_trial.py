"""Trials learn the labels a data file carries: a larcv3 cosmic-tag file trains on origin."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from models.data import ORIGIN_CLASSES, ImageMeta, generate_events, write_larcv3
from workflows import train

TINY = {"depth": 3, "filters": 8, "reps": 1, "batch_size": 2, "warmup_steps": 1, "lr": 0.01}


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("HPSEARCH_INTRA_OP_THREADS", "1")
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def events():
    return generate_events("2d", np.random.default_rng(5), 10, size=64)


@pytest.fixture(scope="module")
def cosmic_tag_file(tmp_path_factory, events) -> Path:
    path = tmp_path_factory.mktemp("larcv3") / "cosmictag.h5"
    return write_larcv3(path, events, ImageMeta((64, 64)))


def args_for(tmp_path: Path, data: Path, *extra: str, epochs: int = 3) -> list[str]:
    (tmp_path / "params.json").write_text(json.dumps(TINY))
    return ["--params", str(tmp_path / "params.json"), "--out", str(tmp_path / "result.json"),
            "--progress", str(tmp_path / "progress.jsonl"), "--model", "uresnet2d",
            "--data", str(data), "--epochs", str(epochs), "--steps-per-epoch", "4", *extra]


def test_cosmic_tag_file_trains_on_its_labels(tmp_path, cosmic_tag_file):
    assert train.main(args_for(tmp_path, cosmic_tag_file, "--labels", "origin")) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "ok" and math.isfinite(result["objective"])
    assert result["labels"] == "origin" and tuple(result["classes"]) == ORIGIN_CLASSES
    assert len(result["confusion_matrix"]) == 3 and sum(map(sum, result["confusion_matrix"]))
    metrics = result["metrics"]
    assert {"iou_background", "iou_cosmic", "iou_neutrino", "accuracy_cosmic",
            "neutrino_efficiency"} <= set(metrics)
    assert not [name for name in metrics if name.endswith(("_shower", "_michel"))]
    losses = [line["metrics"]["train_loss"] for line in map(
        json.loads, (tmp_path / "progress.jsonl").read_text().splitlines())]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]


def test_the_file_s_own_labels_are_the_default(tmp_path, cosmic_tag_file):
    assert train.main(args_for(tmp_path, cosmic_tag_file, epochs=1)) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["labels"] == "origin"
    # the cosmic-tagging objective: 1 - the mean of the cosmic and neutrino IoU
    metrics = result["metrics"]
    assert result["metric"] == "tag_error" and result["objective"] == metrics["tag_error"]
    assert metrics["tag_error"] == pytest.approx(
        1 - (metrics["iou_cosmic"] + metrics["iou_neutrino"]) / 2)


def test_class_weights_favour_rare_classes_and_keep_the_loss_scale():
    from models import build_model, resolve_hparams
    from workflows._distributed import Communicator

    labels = torch.tensor([0] * 80 + [1] * 16 + [2] * 4 + [-1] * 5)
    made = {}
    for scheme in ("none", "sqrt", "inverse"):
        hparams = resolve_hparams("uresnet2d", {**TINY, "class_weights": scheme})
        trainer = train.Trainer(build_model("uresnet2d", TINY, num_classes=3), "segmentation",
                                3, hparams, Communicator(), total_steps=1,
                                classes=ORIGIN_CLASSES)
        made[scheme] = trainer.class_weights(labels)
    assert made["none"] == (None, 100.0)
    counts = torch.tensor([80.0, 16.0, 4.0])
    for scheme, power in (("sqrt", 0.5), ("inverse", 1.0)):
        weights, total = made[scheme]
        assert total == 100.0 and float((weights * counts).sum()) == pytest.approx(100.0)
        assert float(weights[2] / weights[0]) == pytest.approx(20.0 ** power)


def test_labels_for_a_classifier_is_one_line_exit_2(tmp_path, capsys):
    from models.data import write_dataset

    path = write_dataset(tmp_path / "cls.h5", "2d", n_events=4, seed=1, size=64,
                         task="classification", progress=False)
    args = args_for(tmp_path, path, "--labels", "origin")
    args[args.index("uresnet2d")] = "resnet2d"
    assert train.main(args) == 2
    err = capsys.readouterr().err
    assert "--labels origin is for segmentation models" in err and err.count("\n") == 1
    assert not (tmp_path / "result.json").exists()


@pytest.mark.parametrize("extra, words", [
    (("--labels", "semantic"), "carries no semantic labels"),
    (("--labels", "origin", "--metric", "iou_michel"), "unknown --metric 'iou_michel'"),
])
def test_labels_the_file_lacks_is_one_line_exit_2(tmp_path, capsys, cosmic_tag_file, extra,
                                                  words):
    assert train.main(args_for(tmp_path, cosmic_tag_file, *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("train: error: ") and words in err and err.count("\n") == 1
    assert not (tmp_path / "result.json").exists()
    assert not (tmp_path / "progress.jsonl").exists()


def test_a_failed_result_exits_non_zero(tmp_path, events):
    # no neutrino pixel among the held-out events: their neutrino accuracy is undefined,
    # so the objective is missing and the result says "failed"
    held_out = [dataclasses.replace(e, origin=np.where(e.origin == 2, 1, e.origin))
                for e in events[-2:]]
    path = write_larcv3(tmp_path / "no_nu.h5", [*events[:-2], *held_out], ImageMeta((64, 64)))
    code = train.main(args_for(tmp_path, path, "--metric", "accuracy_neutrino", epochs=1))
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "failed" and "not a finite number" in result["reason"]
    assert code == 1


def test_a_generated_file_offers_both_label_sets(tmp_path):
    from models.data import write_dataset

    path = write_dataset(tmp_path / "gen.h5", "2d", n_events=6, seed=1, size=64, progress=False)
    assert train.main(args_for(tmp_path, path, "--labels", "origin", epochs=1)) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["labels"] == "origin" and "iou_neutrino" in result["metrics"]
    assert train.main(args_for(tmp_path, path, epochs=1)) == 0  # default: semantic
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["labels"] == "semantic" and len(result["confusion_matrix"]) == 5
