"""The no-worker limit on a real HighThroughputExecutor whose worker pools never connect: it
does not fire while the block is queued (Parsl's job state PENDING), and fires once the block
is known to run without a manager connected."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import parsl
import pytest
from spine_helpers import wait_for

from hpsearch.driver import interpreter_bin_on_path
from hpsearch.executor_watch import ExecutorWatch
from hpsearch.sites import load_site
from hpsearch.sites.parsl_config import build_config, polled_every
from workflows.apps import trial_app

NO_WORKER_S = 1.0


@pytest.mark.slow
def test_no_worker_limit_waits_for_queued_blocks_and_fires_on_running_ones(
        tmp_path: Path) -> None:
    site = load_site("local", overrides={
        "worker_init": "sleep 600",  # the block never gets as far as its worker pool
        "executor": {"no_worker_timeout": NO_WORKER_S},
    })
    config = build_config(site, tmp_path / "parsl")
    [executor] = config.executors
    # Parsl reports a new block as PENDING until it next asks the provider: asking once an
    # hour keeps this block queued, as a batch system's busy queue would.
    polled_every(3600, executor.provider)
    interpreter_bin_on_path()
    with parsl.load(config):
        future = trial_app([sys.executable, "-c", "pass"], str(tmp_path / "t"), {},
                           str(tmp_path / "t" / "result.json"))
        watch = ExecutorWatch([executor.interchange_proc], [executor],
                              no_worker_s=site.settings["executor"]["no_worker_timeout"])
        wait_for(lambda: watch.lost() is None and watch._managers == 0, 30, "an answer")
        queued_until = time.monotonic() + 5 * NO_WORKER_S
        while time.monotonic() < queued_until:
            assert watch.lost() is None, {b: s.state for b, s in executor.status_facade.items()}
            time.sleep(0.1)
        assert {s.state.name for s in executor.status_facade.values()} == {"PENDING"}
        assert not future.done()

        polled_every(0.1, executor.provider)  # Parsl asks now: the block runs
        wait_for(lambda: {s.state.name for s in executor.status_facade.values()} == {"RUNNING"},
                 30, "the block seen running")
        said: list[str | None] = [None]

        def fired() -> bool:
            said[-1] = watch.lost()
            return said[-1] is not None

        wait_for(fired, 30, "the no-worker limit")
        assert said[-1] is not None
        assert said[-1].startswith("no worker has been connected to Parsl's executor for 1 s")
        assert "while 1 trial(s) wait (blocks: 1 running;" in said[-1]
