from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from workflows import train

REPO = Path(__file__).resolve().parents[3]
TINY = {"depth": 3, "filters": 4, "reps": 1, "batch_size": 2, "warmup_steps": 1}


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """One torch thread (also for in-process trials): on a shared 2-core machine, a second
    spinning thread only waits."""
    before = torch.get_num_threads()
    monkeypatch.setenv("HPSEARCH_INTRA_OP_THREADS", "1")
    yield
    torch.set_num_threads(before)


def trial_env(threads: int = 1) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["HPSEARCH_INTRA_OP_THREADS"] = str(threads)
    return env


@pytest.fixture(scope="module")
def seg_data(tmp_path_factory) -> Path:
    from models.data import write_dataset

    path = tmp_path_factory.mktemp("data") / "seg2d.h5"
    write_dataset(path, "2d", n_events=10, seed=3, size=64, progress=False)
    return path


def args_for(tmp_path: Path, data: Path, params: dict, *extra: str) -> list[str]:
    params_file = tmp_path / "params.json"
    params_file.write_text(json.dumps(params))
    return ["--params", str(params_file), "--out", str(tmp_path / "result.json"),
            "--progress", str(tmp_path / "progress.jsonl"),
            "--stop-file", str(tmp_path / "STOP"), "--model", "uresnet2d", "--data", str(data),
            "--epochs", "2", "--steps-per-epoch", "2", *extra]


def progress_lines(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("params, extra, words", [
    ({"filterz": 4}, (), "unknown hyperparameter 'filterz'"),
    ({"lr": -1}, (), "hyperparameter lr must be in"),
    ({"activation": "tanh"}, (), "activation must be one of"),
    ({}, ("--metric", "auc"), "unknown --metric 'auc'"),
    ({}, ("--model", "vgg"), "unknown model 'vgg'"),
    ({"depth": 8}, (), "depth=8 halves"),
    ({}, ("--epochs", "0"), "--epochs must be at least 1"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, capsys, seg_data, params,
                                                      extra, words):
    code = train.main(args_for(tmp_path, seg_data, params, *extra))
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("train: error: ") and words in err and err.count("\n") == 1
    assert not (tmp_path / "result.json").exists()
    assert not (tmp_path / "progress.jsonl").exists()


@pytest.mark.parametrize("make, words", [
    (lambda path: None, "does not exist"),
    (lambda path: path.write_text("not an event file"), "cannot read data"),
])
def test_missing_or_corrupt_data(tmp_path, capsys, make, words):
    data = tmp_path / "events.h5"
    make(data)
    code = train.main(args_for(tmp_path, data, {}))
    err = capsys.readouterr().err
    assert code == 2 and words in err and "python -m models.data" in err
    assert err.count("\n") == 1 and not (tmp_path / "result.json").exists()


def test_bad_params_file_from_the_command_line(tmp_path, seg_data):
    argv = args_for(tmp_path, seg_data, {})
    (tmp_path / "params.json").write_text("{not json")
    done = subprocess.run([sys.executable, "-m", "workflows.train", *argv], env=trial_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("train: error: params file") and done.stderr.count("\n") == 1
    assert not (tmp_path / "result.json").exists()


def test_trial_end_to_end(tmp_path, seg_data):
    argv = args_for(tmp_path, seg_data, TINY)
    done = subprocess.run([sys.executable, "-m", "workflows.train", *argv], env=trial_env(),
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "ok" and result["reason"] is None
    assert result["metric"] == "icpf_mean"
    assert result["objective"] == result["metrics"]["icpf_mean"]
    for name in ("accuracy", "icpf_p90", "iou_shower", "iou_low_energy", "accuracy_track",
                 "mean_iou", "loss", "train_loss"):
        assert name in result["metrics"]
    for name in ("wall_time_s", "peak_memory_mb", "hostname", "images_per_s", "threads"):
        assert result[name] is not None
    assert result["ranks"] == 1 and result["steps"] == 4
    assert result["threads"]["torch_intra_op_threads"] == 1
    assert len(result["confusion_matrix"]) == 5
    lines = progress_lines(tmp_path)
    assert [line["step"] for line in lines] == [1, 2]
    assert set(lines[-1]["metrics"]) == set(result["metrics"])


def test_stop_file_prunes_after_the_current_epoch(tmp_path, seg_data):
    (tmp_path / "STOP").touch()
    assert train.main(args_for(tmp_path, seg_data, TINY)) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "pruned" and "epoch 1" in result["reason"]
    assert result["objective"] == result["metrics"]["icpf_mean"]
    assert len(progress_lines(tmp_path)) == 1


def test_diverging_loss_fails_the_trial_with_a_reason(tmp_path, seg_data):
    params = {**TINY, "norm": "none", "optimizer": "sgd", "lr": 10.0, "momentum": 0.99,
              "warmup_steps": 0, "schedule": "constant"}
    argv = args_for(tmp_path, seg_data, params)
    argv[argv.index("--steps-per-epoch") + 1] = "5"
    assert train.main(argv) == 1
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "failed" and result["objective"] is None
    assert "loss" in result["reason"]


@pytest.mark.mpi
@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs mpiexec")
def test_two_rank_trial_only_rank_zero_writes(tmp_path, seg_data):
    argv = args_for(tmp_path, seg_data, TINY, "--checkpoint", str(tmp_path / "model.pt"),
                    "--sync-bn")
    done = subprocess.run(["mpiexec", "-n", "2", sys.executable, "-m", "workflows.train", *argv],
                          env=trial_env(), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "ok" and result["ranks"] == 2 and result["sync_bn"]
    assert result["backend"] == "gloo"
    assert len(progress_lines(tmp_path)) == 2  # one writer: one line per epoch
    assert (tmp_path / "model.pt").exists()
    # no temporary files of a second writer left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "model.pt", "params.json", "progress.jsonl", "result.json"]
