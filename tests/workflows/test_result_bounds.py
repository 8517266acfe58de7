"""Result files and progress lines are checked by one reader: bad ones FAIL, never score."""

from __future__ import annotations

import json

import pytest

from workflows.trial_io import (
    MAX_METRICS,
    MAX_TEXT,
    STATUS_FAILED,
    STATUS_OK,
    TrialResult,
    parse_progress_line,
)

BAD_RESULTS = [
    {"status": "ok", "objective": True},
    {"status": "ok", "objective": 1.0, "wall_time_s": "soon"},
    {"status": "ok", "objective": 1.0, "metrics": {"loss": "x" * (MAX_TEXT + 1)}},
    {"status": "ok", "objective": 1.0, "metrics": {"loss": [1.0, 2.0]}},
    {"status": "ok", "objective": 1.0, "metrics": {"loss": {"nested": 1}}},
    {"status": "ok", "objective": 1.0, "metrics": {"loss": False}},
    {"status": "ok", "objective": 1.0, "metrics": {f"m{i}": i for i in range(MAX_METRICS + 1)}},
    {"status": "ok", "objective": 1.0, "metrics": {"n" * (MAX_TEXT + 1): 1.0}},
    {"status": "ok", "objective": 1.0, "ranks": 2.5},
    {"status": "ok", "objective": 1.0, "threads": "all"},
    {"status": "ok", "metrics": {"loss": True}},
]


@pytest.mark.parametrize("payload", BAD_RESULTS, ids=lambda p: json.dumps(p)[:60])
def test_a_malformed_result_fails_with_its_reason_and_never_scores(payload):
    result = TrialResult.parse(payload).settle("loss")
    assert result.status == STATUS_FAILED
    assert result.objective is None
    assert result.reason and len(result.reason) < 2 * MAX_TEXT


def test_bounded_metrics_of_both_kinds_are_kept():
    payload = {"status": "ok", "objective": 0.5,
               "metrics": {"loss": 0.5, "nan_is_a_number": float("nan"), "note": "x" * MAX_TEXT}}
    result = TrialResult.parse(payload)
    assert (result.status, result.objective) == (STATUS_OK, 0.5)


def test_a_long_reason_is_cut():
    result = TrialResult.parse({"status": "failed", "reason": "r" * 100_000})
    assert result.reason is not None and len(result.reason) <= MAX_TEXT + 3


@pytest.mark.parametrize("line, read", [
    ('{"step": 1, "metrics": {"loss": 0.5}}', (1, 0.5)),
    ('{"step": 1, "metrics": {"loss": true}}', None),
    ('{"step": true, "metrics": {"loss": 0.5}}', None),
    ('{"step": -1, "metrics": {"loss": 0.5}}', None),
    ('{"step": 1.5, "metrics": {"loss": 0.5}}', None),
    ('{"step": 1, "metrics": {"loss": "0.5"}}', None),
    ('{"step": 1, "metrics": {"loss": NaN}}', None),
    ('{"step": 1, "metrics": {"loss": 0.5, "junk": [1]}}', None),
    ('[1, 2]', None),
    ('{"step": 1, "metrics": [0.5]}', None),
    ('not json', None),
])
def test_progress_lines_report_only_a_finite_metric(line, read):
    assert parse_progress_line(line, "loss") == read
