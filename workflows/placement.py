"""Where each attempt of a trial ran: one line per attempt in `trial_dir/placements.jsonl`.

The trial app appends the line before it starts the command, so it is there even when the
attempt is lost with its node. The driver's retry policy reads the last line to tell a trial
cut by its block's walltime from one lost on a failed node: the line holds the batch job,
the Parsl block and the time the block's worker pool started (the parent of the worker that
runs the app), against which the block's drain time is measured.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

FILENAME = "placements.jsonl"
_JOB_VARIABLES = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID")


def record_placement(trial_dir: str | Path) -> dict[str, Any]:
    """Append this attempt's placement (called on the worker, before the trial starts)."""
    import psutil

    try:
        pool_started = psutil.Process(os.getppid()).create_time()
    except psutil.Error:
        pool_started = None
    job = next((os.environ[name] for name in _JOB_VARIABLES if os.environ.get(name)), "")
    line = {
        "job_id": job,
        "block": os.environ.get("PARSL_WORKER_BLOCK_ID", ""),
        "host": socket.gethostname(),
        "pool_started": pool_started,
        "started": time.time(),
    }
    with open(Path(trial_dir) / FILENAME, "a") as handle:
        handle.write(json.dumps(line) + "\n")
    return line


def placements(trial_dir: str | Path) -> list[dict[str, Any]]:
    """Every attempt's placement, oldest first (lines cut short by a crash are skipped)."""
    try:
        lines = (Path(trial_dir) / FILENAME).read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out
