"""Generic objective trials: `workflows.entrypoint` and `workflows.command` as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from spine_helpers import OBJECTIVES  # by_mode ends the trial each way a user's one can


def _run(tmp_path: Path, module: str, extra: list[str], params: dict) -> tuple[int, dict | None]:
    (tmp_path / "objectives.py").write_text(OBJECTIVES)
    (tmp_path / "params.json").write_text(json.dumps(params))
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, "-m", module, "--params", str(tmp_path / "params.json"),
         "--out", str(out), "--progress", str(tmp_path / "progress.jsonl"),
         "--stop-file", str(tmp_path / "STOP"), *extra],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**_env(), "PYTHONPATH": str(tmp_path)})
    result = json.loads(out.read_text()) if out.exists() else None
    return done.returncode, result


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


@pytest.mark.parametrize("mode,code,reason", [
    ("ok", 0, None),
    ("raise", 1, "ValueError: bad luck with raise"),
    ("nan", 1, "not a finite number"),
    ("exit", 7, None),
])
def test_entrypoint_outcomes(tmp_path: Path, mode: str, code: int, reason: str | None) -> None:
    returncode, result = _run(tmp_path, "workflows.entrypoint",
                              ["--target", "objectives:by_mode"], {"mode": mode})
    assert returncode == code
    if mode == "exit":
        assert result is None  # the process left without a result: the driver records it
    elif mode == "ok":
        assert result["status"] == "ok" and result["objective"] == 1.5
    else:
        assert result["status"] == "failed" and reason in result["reason"]


def test_entrypoint_reports_and_stops(tmp_path: Path) -> None:
    (tmp_path / "STOP").touch()  # the driver asked to stop before the first step
    returncode, result = _run(tmp_path, "workflows.entrypoint",
                              ["--target", "workflows.examples:branin_curve"],
                              {"x": 1.0, "y": 2.0, "epochs": 4})
    assert returncode == 0 and result["status"] == "pruned"
    lines = (tmp_path / "progress.jsonl").read_text().splitlines()
    assert len(lines) == 1 and "objective" in json.loads(lines[0])["metrics"]


def test_command_placeholders_and_plain_result(tmp_path: Path) -> None:
    script = ("import json,sys; p=json.load(open(sys.argv[1])); "
              "json.dump({'loss': p['x'] * 2}, open(sys.argv[2], 'w'))")
    returncode, result = _run(tmp_path, "workflows.command",
                              ["--trial-dir", str(tmp_path), "--metric", "loss", "--",
                               sys.executable, "-c", script, "{params}", "{out}"], {"x": 1.25})
    assert returncode == 0
    assert result["status"] == "ok" and result["objective"] == 2.5


def test_command_nonzero_exit_fails(tmp_path: Path) -> None:
    returncode, result = _run(tmp_path, "workflows.command",
                              ["--trial-dir", str(tmp_path), "--",
                               sys.executable, "-c", "raise SystemExit(4)", "{out}"], {})
    assert returncode == 4
    assert result["status"] == "failed" and "exited with code 4" in result["reason"]
