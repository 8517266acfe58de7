"""Who drives a campaign, and the processes a dead driver left behind.

Parsl's interchange does not notice that the driver died, and its workers wait minutes for
heartbeats before giving up; trials may keep computing. So the driver writes
`<campaign>/driver.json` (its pid and start time) and marks every process it starts, directly
or through Parsl, with `HPSEARCH_CAMPAIGN_DIR=<campaign>` in their environment. The
interchange renames itself, which wipes its environment as /proc shows it, so its pid is
recorded in driver.json too. A later `launch`/`resume` refuses to start while the recorded
driver lives, and otherwise ends those processes on this machine before starting its own.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import psutil

from hpsearch.errors import UserError
from workflows.atomic_file import write_text_atomic

ENV_MARK = "HPSEARCH_CAMPAIGN_DIR"
LOCK_FILENAME = "driver.json"


def _mark(directory: Path) -> str:
    return str(directory.resolve())


def live_driver(directory: Path) -> psutil.Process | None:
    """The driver recorded for this campaign, if it still runs on this host."""
    try:
        record = json.loads((directory / LOCK_FILENAME).read_text())
    except (OSError, ValueError):
        return None
    if record.get("hostname") != socket.gethostname() or "ended" in record:
        return None
    try:
        process = psutil.Process(int(record["pid"]))
        if abs(process.create_time() - float(record["create_time"])) > 1.0:
            return None  # the pid was reused by an unrelated process
        if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except (psutil.Error, KeyError, ValueError, TypeError):
        return None


def claim(directory: Path) -> None:
    """Become the campaign's driver: refuse if another one runs, end a dead one's leftovers."""
    other = live_driver(directory)
    if other is not None and other.pid != os.getpid():
        raise UserError(
            f"campaign {directory} is being driven by process {other.pid}; stop it first "
            f"(kill {other.pid}), then resume"
        )
    reap(directory)
    me = psutil.Process()
    _write(directory / LOCK_FILENAME,
           {"pid": me.pid, "create_time": me.create_time(), "hostname": socket.gethostname()})
    # Everything started from now on (Parsl interchange, worker pools, trials) inherits it.
    os.environ[ENV_MARK] = _mark(directory)


def record_helpers(directory: Path, pids: list[int]) -> None:
    """Add processes (Parsl's interchange) to the driver's record, with their start times."""
    path = directory / LOCK_FILENAME
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    helpers = record.setdefault("helpers", [])
    for pid in pids:
        try:
            helpers.append([pid, psutil.Process(pid).create_time()])
        except psutil.Error:
            continue
    _write(path, record)


def recorded_helpers(directory: Path) -> list[psutil.Process]:
    """The recorded helper processes that still run (same pid and start time)."""
    try:
        record = json.loads((directory / LOCK_FILENAME).read_text())
    except (OSError, ValueError):
        return []
    if record.get("hostname") != socket.gethostname():
        return []
    alive = []
    for pid, create_time in record.get("helpers", []):
        try:
            process = psutil.Process(int(pid))
            if abs(process.create_time() - float(create_time)) <= 1.0:
                alive.append(process)
        except (psutil.Error, ValueError, TypeError):
            continue
    return alive


def _write(path: Path, record: dict) -> None:
    write_text_atomic(path, json.dumps(record) + "\n")


def release(directory: Path) -> None:
    """Mark the record as ended (kept: it says which processes belonged to the last run)."""
    path = directory / LOCK_FILENAME
    try:
        record = json.loads(path.read_text())
        if int(record.get("pid", -1)) == os.getpid():
            record["ended"] = time.time()
            _write(path, record)
    except (OSError, ValueError):
        pass


def find(directory: Path) -> list[psutil.Process]:
    """Processes of this machine marked as started for this campaign (not us, not our parents)."""
    mark = _mark(directory)
    spared = {os.getpid()}
    try:
        spared.update(p.pid for p in psutil.Process().parents())
    except psutil.Error:
        pass
    found = [p for p in recorded_helpers(directory) if p.pid not in spared]
    known = {p.pid for p in found}
    for process in psutil.process_iter(["pid"]):
        if process.pid in spared or process.pid in known:
            continue
        try:
            if process.environ().get(ENV_MARK) == mark:
                found.append(process)
        except (psutil.Error, OSError):
            continue  # gone, or another user's process
    return found


def reap(directory: Path, timeout: float = 2.0, rounds: int = 3) -> int:
    """End the campaign's leftover processes: SIGTERM, then SIGKILL. Returns how many.

    A few rounds, because a worker that dies can leave a child that is only now visible.
    The campaign's batch jobs (blocks.json) are cancelled first.
    """
    from hpsearch import blocks

    blocks.cancel_recorded(directory)
    total = 0
    for _ in range(rounds):
        ended = _reap_once(directory, timeout)
        total += ended
        if not ended:
            break
    return total


def _reap_once(directory: Path, timeout: float) -> int:
    processes = find(directory)
    for process in processes:
        try:
            process.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=timeout)
    return len(processes)
