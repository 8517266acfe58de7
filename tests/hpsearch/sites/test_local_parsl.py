"""The local site on a real HighThroughputExecutor: per-worker CPU masks, the site's thread
settings inside the trial process, and the failure policy (lost worker retried with the same
parameters, the trial's own error not retried)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import parsl
import pytest

from hpsearch.driver import interpreter_bin_on_path
from hpsearch.sites import load_site
from hpsearch.sites.parsl_config import build_config
from hpsearch.sites.resolve import usable_cores
from workflows.apps import trial_app
from workflows.trial_io import STATUS_OK

pytestmark = [pytest.mark.skipif(usable_cores() < 2, reason="needs 2 cores for 2 workers"),
              pytest.mark.slow]

# Each probe waits until both have started: then they run at once, so on two workers.
PROBE = """
import json, os, sys, time
from workflows import threads
threads.apply()
info = threads.in_effect()
started = sys.argv[2]
open(os.path.join(started, str(os.getpid())), "w").close()
deadline = time.monotonic() + 120
while len(os.listdir(started)) < 2 and time.monotonic() < deadline:
    time.sleep(0.02)
json.dump({"status": "ok", "objective": 0.0, "threads": info,
           "metrics": {"together": int(len(os.listdir(started)) == 2)}}, open(sys.argv[1], "w"))
"""

# First attempt: leave a mark, tell the test which process is the worker, then hang until
# the worker is killed under it. Second attempt (same arguments): finish at once.
KILLED_ONCE = """
import json, os, sys, time
out, mark = sys.argv[1], sys.argv[2]
with open(mark + ".attempts", "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
if not os.path.exists(mark):
    open(mark + ".tmp", "w").write(str(os.getppid()))
    os.replace(mark + ".tmp", mark)
    time.sleep(120)
json.dump({"status": "ok", "objective": 1.0}, open(out, "w"))
"""

RAISES = """
import sys
open(sys.argv[2], "a").write("attempt\\n")
raise RuntimeError("the trial's own bug")
"""


@pytest.fixture(scope="module")
def local_site(tmp_path_factory):
    site = load_site("local", overrides={
        "workers": 2,
        # the worker watchdog looks every heartbeat_period: notice a killed worker quickly
        "executor": {"heartbeat_period": 1, "heartbeat_threshold": 20},
    })
    run_dir = tmp_path_factory.mktemp("parsl")
    interpreter_bin_on_path()  # as the driver does: Parsl's programs sit next to python
    with parsl.load(build_config(site, run_dir)):
        yield site


def _trial(site, directory: Path, code: str, *extra: str):
    result = directory / "result.json"
    command = [sys.executable, "-c", code, str(result), *extra]
    return trial_app(command, str(directory), site.trial_env(), str(result))


def test_each_worker_has_its_own_cores_and_the_site_threads(local_site, tmp_path):
    started = tmp_path / "started"
    started.mkdir()
    futures = [_trial(local_site, tmp_path / str(i), PROBE, str(started)) for i in range(2)]
    outcomes = [f.result(timeout=180) for f in futures]
    masks = []
    for outcome in outcomes:
        assert outcome["returncode"] == 0, outcome["log_tail"]
        assert outcome["result"].metrics["together"]
        threads = outcome["result"].recorded["threads"]
        env = threads["env"]
        masks.append(frozenset(threads["cpu_affinity"]))
        assert threads["torch_intra_op_threads"] == 1 == local_site.intra_op_threads
        assert threads["torch_inter_op_threads"] == 1
        # as written in local.toml, whatever Parsl's cpu_affinity put in the worker
        assert env["OMP_NUM_THREADS"] == "1"
        assert env["KMP_BLOCKTIME"] == "0" and env["OMP_PROC_BIND"] == "true"
        assert env["HPSEARCH_INTRA_OP_THREADS"] == "1"
        assert env["PARSL_WORKER_RANK"] in ("0", "1")
        assert env["KMP_AFFINITY"].startswith("explicit,proclist=")  # Parsl's pinning
    cores_each = usable_cores() // 2
    assert all(len(mask) == cores_each for mask in masks)
    assert masks[0].isdisjoint(masks[1])  # two workers, two different cores
    assert {o["worker"] for o in outcomes} != {outcomes[0]["worker"]}


def test_lost_worker_is_retried_with_the_same_parameters(local_site, tmp_path):
    mark = tmp_path / "worker.pid"
    future = _trial(local_site, tmp_path / "trial", KILLED_ONCE, str(mark))
    deadline = time.time() + 120
    while not mark.exists():
        assert time.time() < deadline, "the trial never started"
        assert not future.done(), future.result()
        time.sleep(0.2)
    worker = int(mark.read_text())
    assert worker != os.getpid()
    os.kill(worker, signal.SIGKILL)  # what a lost node or a walltime does to a worker
    outcome = future.result(timeout=180)
    assert outcome["returncode"] == 0 and outcome["result"].status == STATUS_OK
    attempts = Path(f"{mark}.attempts").read_text().splitlines()
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    assert future.task_record["try_id"] == 1  # Parsl's retry, not a new trial


def test_a_failing_trial_is_not_retried(local_site, tmp_path):
    mark = tmp_path / "attempts"
    future = _trial(local_site, tmp_path / "trial", RAISES, str(mark))
    outcome = future.result(timeout=120)
    assert outcome["returncode"] == 1 and outcome["result"] is None
    assert "the trial's own bug" in outcome["log_tail"]
    assert mark.read_text().count("attempt") == 1
    assert future.task_record["try_id"] == 0


def test_an_error_in_the_app_is_not_retried(local_site, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # the app cannot make its trial directory under a file
    future = _trial(local_site, blocker / "trial", RAISES, str(tmp_path / "attempts"))
    with pytest.raises(OSError):
        future.result(timeout=120)
    assert future.task_record["fail_count"] == 1 and future.task_record["try_id"] == 0
