"""The batch jobs (Parsl blocks) a campaign submitted, recorded as they are submitted.

A driver that is killed (`kill -9`, a lost login node) cannot cancel its blocks, and they
would hold nodes until their walltime. So every job id the scheduler returns is written to
`<campaign>/blocks.json` right when Parsl's provider submits it, and whoever drives the
campaign next (or the driver itself on its way out) cancels the recorded jobs that are
still queued or running: `scancel` on Slurm (only jobs of this user with the recorded
name), `qdel` on PBS Pro.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from parsl.providers import PBSProProvider, SlurmProvider

from workflows.atomic_file import write_text_atomic

FILENAME = "blocks.json"
_LOCK = threading.Lock()  # Parsl submits from its scaling thread, the driver reads and clears
_TIMEOUT_S = 30


def _scheduler(provider: Any) -> str | None:
    if isinstance(provider, SlurmProvider):
        return "slurm"
    if isinstance(provider, PBSProProvider):
        return "pbspro"
    return None  # local processes: leftovers.py ends those


def record_submissions(config: Any, directory: Path) -> None:
    """Make each batch provider of a Parsl Config append its job ids to blocks.json.

    Parsl submits the first blocks inside parsl.load(), so this wraps the providers' submit
    before the Config is loaded.
    """
    for executor in config.executors:
        provider: Any = getattr(executor, "provider", None)
        scheduler = _scheduler(provider)
        if scheduler is None:
            continue
        submit = provider.submit

        def recording_submit(*args: Any, _submit: Any = submit, _provider: Any = provider,
                             _scheduler: str = scheduler, **kwargs: Any) -> Any:
            job_id = _submit(*args, **kwargs)
            if job_id:
                stdout = (_provider.resources.get(job_id) or {}).get("job_stdout_path") or ""
                _append(directory, {"job_id": str(job_id), "scheduler": _scheduler,
                                    "name": Path(stdout).name.removesuffix(".stdout"),
                                    "submitted": time.time(), "driver": os.getpid()})
            return job_id

        provider.submit = recording_submit


def recorded(directory: Path) -> list[dict[str, Any]]:
    try:
        jobs = json.loads((directory / FILENAME).read_text()).get("jobs", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [job for job in jobs if isinstance(job, dict) and job.get("job_id")]


def _append(directory: Path, job: dict[str, Any]) -> None:
    with _LOCK:
        _write(directory, [*recorded(directory), job])


def _write(directory: Path, jobs: list[dict[str, Any]]) -> None:
    write_text_atomic(directory / FILENAME, json.dumps({"jobs": jobs}, indent=1) + "\n")


def cancel_recorded(directory: Path) -> list[str]:
    """Cancel the recorded jobs that are still queued or running; returns their ids."""
    with _LOCK:
        jobs = recorded(directory)
        open_jobs = [j for j in jobs if "closed" not in j]
        if not open_jobs:
            return []
        cancelled = _cancel_slurm([j for j in open_jobs if j.get("scheduler") == "slurm"])
        cancelled += _cancel_pbs([j for j in open_jobs if j.get("scheduler") == "pbspro"])
        now = time.time()
        for job in open_jobs:  # kept, closed: the record says which jobs the campaign used
            job["closed"] = now
            job["cancel_sent"] = job["job_id"] in cancelled
        _write(directory, jobs)
        return cancelled


def _run(command: list[str]) -> subprocess.CompletedProcess | None:
    if shutil.which(command[0]) is None:
        return None  # not on this machine: nothing can be cancelled from here
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _cancel_slurm(jobs: list[dict[str, Any]]) -> list[str]:
    if not jobs:
        return []
    listed = _run(["squeue", "--me", "--noheader", "--format=%i %j"])
    if listed is None or listed.returncode != 0:
        return []
    queued = dict(line.split(" ", 1) for line in listed.stdout.splitlines() if " " in line)
    # A job id alone could be another job's after a reset of the scheduler: the name too.
    ids = [j["job_id"] for j in jobs
           if j["job_id"] in queued and queued[j["job_id"]].strip() == j.get("name", "")]
    if ids:
        _run(["scancel", *ids])
    return ids


def _cancel_pbs(jobs: list[dict[str, Any]]) -> list[str]:
    ids = [j["job_id"] for j in jobs]
    if ids:
        _run(["qdel", *ids])  # finished ids are refused by qdel, harmlessly
    return ids
