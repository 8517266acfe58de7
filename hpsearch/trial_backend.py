"""How the driver starts trials and learns that they ended: the seam between the driver loop
and whatever runs the trials.

A backend hands out one future per launched trial, whose result is the dict the Parsl apps
return (`workflows.apps`), and reports finished futures a few at a time, so the driver can
record some results, start new trials, and come back for more. It also owns the clock the
driver reads, so a simulated cluster (`simulated_cluster.SimulatedCluster`) can run the real
driver in virtual time. `ParslBackend` is the real one: each trial a Parsl app on the site's
executor.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import queue
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from hpsearch import blocks, leftovers
from hpsearch.executor_watch import ExecutorWatch
from hpsearch.sites import Site
from workflows.trial_io import TrialPaths

LOST_GRACE_S = 1.0


class TrialBackend(Protocol):
    def session(self) -> contextlib.AbstractContextManager[None]:
        """Start the workers' machinery for the duration of a driver run."""

    def launch(self, command: list[str], paths: TrialPaths,
               env: dict[str, str]) -> concurrent.futures.Future[dict[str, Any]]:
        """Start one trial (params.json is already written)."""

    def done(self, timeout: float, limit: int) -> list[concurrent.futures.Future[Any]]:
        """Up to `limit` futures that finished since the last call, waiting at most `timeout`
        seconds for the first one."""

    def now(self) -> float:
        """Seconds on the driver's monotonic clock."""

    def fault(self) -> str | None:
        """Why the machinery can run no more trials (its executor died or stopped
        answering), or None while it can; asked every turn of the loop."""

    def lost(self) -> bool:
        """True when the machinery died under the driver (its shutdown would hang); asked
        once, when the driver stops."""


class ParslBackend:
    """Each trial a Parsl app (the MPI one on multi-rank sites) on the site's executor."""

    def __init__(self, site: Site, directory: Path):
        self.site = site
        self.directory = directory
        self._finished: queue.SimpleQueue[concurrent.futures.Future[Any]] = queue.SimpleQueue()
        self._interchanges: list[Any] = []
        self._watch: ExecutorWatch | None = None

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        import parsl

        from hpsearch.sites.parsl_config import build_config

        config = build_config(self.site, self.directory / "parsl")
        blocks.record_submissions(config, self.directory)  # job ids, for whoever comes next
        # Ctrl-C on a terminal signals the whole process group. Parsl's interchange must not
        # die of it (its shutdown would then wait forever), so the threads that start Parsl's
        # processes block SIGINT, and the processes inherit the block; only the driver hears it.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            with parsl.load(config) as dfk:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
                self._interchanges = [
                    executor.interchange_proc for executor in dfk.executors.values()
                    if getattr(executor, "interchange_proc", None) is not None]
                leftovers.record_helpers(self.directory, [p.pid for p in self._interchanges])
                self._watch = ExecutorWatch(
                    self._interchanges, list(dfk.executors.values()),
                    no_worker_s=self.site.settings["executor"]["no_worker_timeout"])
                yield
        finally:
            self._watch = None
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def launch(self, command: list[str], paths: TrialPaths,
               env: dict[str, str]) -> concurrent.futures.Future[dict[str, Any]]:
        from workflows.apps import mpi_trial_app, trial_app

        if self.site.mpi:
            future = mpi_trial_app(command, str(paths.trial_dir), env, str(paths.result),
                                   parsl_resource_specification=self.site.resource_specification())
        else:
            future = trial_app(command, str(paths.trial_dir), env, str(paths.result))
        # Finished futures queue up here, so collecting never walks every trial in flight.
        future.add_done_callback(self._finished.put)
        return future

    def done(self, timeout: float, limit: int) -> list[concurrent.futures.Future[Any]]:
        out: list[concurrent.futures.Future[Any]] = []
        try:
            out.append(self._finished.get(timeout=timeout) if timeout > 0
                       else self._finished.get_nowait())
            while len(out) < limit:
                out.append(self._finished.get_nowait())
        except queue.Empty:
            pass
        return out

    def now(self) -> float:
        return time.monotonic()

    def fault(self) -> str | None:
        return None if self._watch is None else self._watch.lost()

    def lost(self) -> bool:
        # Asked when the driver stops: a signal to the whole job reaches the interchange at
        # the same moment, and it may take a moment to die. Waiting a little here costs a
        # plain stop that much; missing it would hang Parsl's shutdown for good.
        deadline = time.monotonic() + LOST_GRACE_S
        while True:
            if any(p.poll() is not None for p in self._interchanges):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
