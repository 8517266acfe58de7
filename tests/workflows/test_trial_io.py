"""The result file as the driver, the Parsl app and `hpsearch resume` read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workflows.trial_io import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_PRUNED,
    TrialIO,
    TrialResult,
    finite_number,
    read_result,
)


@pytest.mark.parametrize("value, number", [
    (1.5, 1.5), (3, 3.0), (0, 0.0), (float("nan"), None), (float("inf"), None), (True, None),
    ("1.5", None), (None, None), ([1.0], None),
])
def test_finite_number(value, number):
    assert finite_number(value) == number


def test_what_a_trial_writes_reads_back(tmp_path: Path):
    out = tmp_path / "result.json"
    TrialIO(out).finish(STATUS_OK, objective=0.25, metrics={"loss": 0.25}, ranks=2,
                        threads={"torch_intra_op_threads": 1})
    result = read_result(out)
    assert result is not None
    assert (result.status, result.objective, result.metrics) == (STATUS_OK, 0.25, {"loss": 0.25})
    assert result.recorded["ranks"] == 2 and "wall_time_s" in result.recorded
    assert result.hostname


def test_a_trial_cannot_write_ok_without_a_finite_objective(tmp_path: Path):
    out = tmp_path / "result.json"
    TrialIO(out).finish(STATUS_OK, objective=float("nan"))
    result = read_result(out)
    assert result is not None and result.status == STATUS_FAILED
    assert "not a finite number" in (result.reason or "")


@pytest.mark.parametrize("payload, reason", [
    ([1, 2], "not a JSON object"),
    ({"status": "done"}, "status must be one of ok, pruned, failed"),
    ({"status": "ok", "objective": True}, "objective has the wrong type"),
    ({"status": "ok", "objective": "0.5"}, "objective has the wrong type"),
    ({"status": "ok", "objective": 1.0, "metrics": [1]}, "metrics must be an object"),
    ({"status": "ok", "objective": 1.0, "wall_time_s": "long"}, "wall_time_s has the wrong type"),
])
def test_a_result_breaking_the_protocol_is_a_failure_saying_why(payload, reason):
    result = TrialResult.parse(payload)
    assert result.status == STATUS_FAILED
    assert result.reason is not None and result.reason.startswith("malformed result file")
    assert reason in result.reason


def test_ok_with_a_non_finite_objective_fails():
    result = TrialResult.parse({"status": "ok", "objective": float("inf")})
    assert result.status == STATUS_FAILED and "not a finite number" in (result.reason or "")


def test_settle_takes_the_metric_when_no_objective_was_written():
    written = TrialResult.parse({"status": "ok", "metrics": {"loss": 0.5}})
    assert written.objective is None
    assert written.settle("loss").objective == 0.5
    missing = written.settle("accuracy")
    assert missing.status == STATUS_FAILED
    assert missing.reason == "the result holds no finite objective"
    pruned = TrialResult.parse({"status": "pruned", "objective": None})
    assert pruned.settle("loss") == pruned and pruned.status == STATUS_PRUNED


def test_no_file_or_no_json_is_no_result(tmp_path: Path):
    assert read_result(tmp_path / "missing.json") is None
    (tmp_path / "half.json").write_text('{"status": "o')
    assert read_result(tmp_path / "half.json") is None
    (tmp_path / "ok.json").write_text(json.dumps({"status": "ok", "objective": 2}))
    assert read_result(tmp_path / "ok.json") == TrialResult(STATUS_OK, 2.0)
