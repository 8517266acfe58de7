"""Throughput campaigns: the knobs reach the trial process before torch starts its pools,
and the trial reports training images/s (to maximize) with what was in effect."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hpsearch.campaign import load_campaign
from hpsearch.campaign_setup import resolve_site
from hpsearch.sites.resolve import usable_cores
from workflows.throughput import KNOBS, knobs_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "throughput.toml"


def test_knobs_are_checked():
    assert knobs_of({"intra_op_threads": 2}) == {"intra_op_threads": 2, "inter_op_threads": 1,
                                                 "batch_size": 8, "workers_per_node": 1}
    with pytest.raises(ValueError, match="unknown throughput knob"):
        knobs_of({"lr": 0.1})
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        knobs_of({"batch_size": 0})


def test_example_campaign_searches_the_knobs():
    campaign = load_campaign(EXAMPLE)
    assert campaign.objective.direction == "maximize"
    assert campaign.objective.metric == "images_per_s"
    assert set(campaign.space.names) <= set(KNOBS)
    assert resolve_site(campaign).slots >= campaign.concurrency == 1


def test_bad_knob_is_one_line_exit_2(tmp_path):
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"threads": 2}))
    done = subprocess.run([sys.executable, "-m", "workflows.throughput", "--params",
                           str(params), "--out", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "unknown throughput knob(s) threads" in done.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.mark.slow
def test_measured_throughput_with_the_knobs_in_effect(tmp_path):
    # Both ways in, side by side: the trial entry (full result) and the campaign entrypoint
    # with two measuring processes (metrics).
    single = tmp_path / "single"
    single.mkdir()
    (single / "params.json").write_text(json.dumps(
        {"intra_op_threads": 2, "inter_op_threads": 1, "batch_size": 2}))
    entry = subprocess.Popen(
        [sys.executable, "-m", "workflows.throughput", "--params", str(single / "params.json"),
         "--out", str(single / "result.json"), "--progress", str(single / "progress.jsonl"),
         "--size", "32", "--steps", "1", "--warmup", "0"], stderr=subprocess.PIPE, text=True)
    double = tmp_path / "double"
    double.mkdir()
    (double / "params.json").write_text(json.dumps(
        {"intra_op_threads": 1, "workers_per_node": 2, "batch_size": 2}))
    through = subprocess.Popen(
        [sys.executable, "-m", "workflows.entrypoint", "--params", str(double / "params.json"),
         "--out", str(double / "result.json"), "--target", "workflows.throughput:measure",
         "--metric", "images_per_s"], stderr=subprocess.PIPE, text=True)
    assert entry.wait(timeout=300) == 0, entry.stderr.read()
    assert through.wait(timeout=300) == 0, through.stderr.read()

    result = json.loads((single / "result.json").read_text())
    assert result["status"] == "ok" and result["objective"] == result["images_per_s"] > 0
    threads = result["threads"]
    assert threads["torch_intra_op_threads"] == 2 and threads["torch_inter_op_threads"] == 1
    assert threads["env"]["OMP_NUM_THREADS"] == "2"
    assert threads["env"]["HPSEARCH_INTRA_OP_THREADS"] == "2"
    assert result["knobs"]["batch_size"] == 2
    assert json.loads((single / "progress.jsonl").read_text())["metrics"]["images_per_s"] > 0

    metrics = json.loads((double / "result.json").read_text())
    assert metrics["status"] == "ok" and metrics["objective"] > 0
    assert metrics["metrics"]["intra_op_threads_in_effect"] == 1.0
    if usable_cores() >= 2:
        assert metrics["metrics"]["cpus_per_worker"] == float(usable_cores() // 2)
