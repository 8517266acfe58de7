"""A cluster of N workers in virtual time, for running the real driver at scale on one core.

It is a `trial_backend.TrialBackend`: the driver launches trials on it and collects their
futures exactly as on Parsl, with the real sampler, storage, progress files and pruning. A
trial takes no CPU: it reads its params.json, lasts a drawn duration (lognormal or uniform),
writes one progress line per epoch (stopping early once the driver's stop file appears) and
ends with the objective's value, or fails at a random moment with `failure_rate`.

The clock advances by the driver's own CPU time between calls (the simulator's own work is
not charged), and jumps to the next trial event when the driver waits. So a slow driver shows
up as idle workers, and `stats()` gives the utilisation: busy worker-seconds over available
ones, for the whole run and for the steady state (from the moment every worker first has a
trial until the last trial is launched).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import heapq
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from workflows.trial_io import STATUS_FAILED, STATUS_OK, STATUS_PRUNED, TrialPaths, TrialResult


@dataclass(frozen=True)
class Durations:
    """Trial durations in seconds: "lognormal" (median `median_s`, log-sd `spread`) or
    "uniform" (median_s * (1 ± spread))."""

    kind: str = "uniform"
    median_s: float = 60.0
    spread: float = 0.2

    def draw(self, rng: random.Random) -> float:
        if self.kind == "lognormal":
            return rng.lognormvariate(math.log(self.median_s), self.spread)
        if self.kind == "uniform":
            return self.median_s * rng.uniform(1 - self.spread, 1 + self.spread)
        raise ValueError(f"unknown duration kind {self.kind!r}; use lognormal or uniform")


@dataclass
class _Trial:
    paths: TrialPaths
    future: concurrent.futures.Future[dict[str, Any]]
    value: float
    started: float
    step_s: float
    epochs: int
    fails_at_epoch: int | None  # None: it does not fail
    epoch: int = 0


@dataclass
class Stats:
    workers: int
    launched: int = 0
    busy_s: float = 0.0  # worker-seconds with a trial, up to `now`
    ended_s: float = 0.0  # the durations of the trials that ended, summed
    ended: int = 0
    fill_s: float | None = None  # when every worker first had a trial
    busy_at_fill: float = 0.0
    last_launch_s: float = 0.0
    busy_at_last_launch: float = 0.0
    now: float = 0.0
    driver_cpu_s: float = 0.0
    first_launch_cpu_s: float | None = None  # the process's CPU time at its first launch

    @property
    def utilisation(self) -> float:
        return self.busy_s / (self.workers * self.now) if self.now else 0.0

    @property
    def steady_utilisation(self) -> float | None:
        if self.fill_s is None or self.last_launch_s <= self.fill_s:
            return None
        span = self.last_launch_s - self.fill_s
        return (self.busy_at_last_launch - self.busy_at_fill) / (self.workers * span)


class SimulatedCluster:
    def __init__(self, workers: int, objective: Callable[[dict[str, Any]], float],
                 durations: Durations | None = None, epochs: int = 0,
                 failure_rate: float = 0.0, seed: int = 0, metric: str = "objective",
                 hostname: str = "simulated"):
        self.workers = workers
        self.objective = objective
        self.durations = durations or Durations()
        self.epochs = epochs
        self.failure_rate = failure_rate
        self.metric = metric
        self.hostname = hostname
        self._rng = random.Random(seed)
        self._events: list[tuple[float, int, _Trial]] = []  # (time, sequence, trial)
        self._sequence = 0
        self._finished: list[concurrent.futures.Future[Any]] = []
        self._busy = 0
        self._mark = time.process_time()
        self.stats = Stats(workers)

    # ---- the clock: the driver's CPU time, never the simulator's ----------------------
    def _charge(self) -> None:
        spent = time.process_time() - self._mark
        self.stats.driver_cpu_s += spent
        self._advance(self.stats.now + spent)

    def _release(self) -> None:
        self._mark = time.process_time()

    def _advance(self, until: float) -> None:
        """Run the trial events up to `until`, then move the clock there."""
        while self._events and self._events[0][0] <= until:
            when, _, trial = heapq.heappop(self._events)
            self._tick(when)
            self._epoch(trial)
        self._tick(until)

    def _tick(self, when: float) -> None:
        self.stats.busy_s += self._busy * (when - self.stats.now)
        self.stats.now = when

    # ---- the backend interface ----------------------------------------------------------
    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        self._release()
        try:
            yield
        finally:
            self._charge()
            # The end of a session kills the trials still running, as Parsl's shutdown does.
            for trial in {id(t): t for _, _, t in self._events}.values():
                self._end(trial, -9, TrialResult(STATUS_FAILED, reason="killed at shutdown"))
            self._events.clear()
            self._finished.clear()

    def now(self) -> float:
        self._charge()
        self._release()
        return self.stats.now

    def fault(self) -> str | None:
        return None  # simulated workers never lose their executor

    def lost(self) -> bool:
        return False

    def launch(self, command: list[str], paths: TrialPaths,
               env: dict[str, str]) -> concurrent.futures.Future[dict[str, Any]]:
        self._charge()
        if self._busy >= self.workers:
            raise RuntimeError(f"trial launched with all {self.workers} workers busy: the "
                               "driver counts more slots than there are workers")
        if self.stats.first_launch_cpu_s is None:
            self.stats.first_launch_cpu_s = time.process_time()
        params = json.loads(paths.params.read_text())
        duration = self.durations.draw(self._rng)
        epochs = max(1, self.epochs)
        fails = (self._rng.randrange(epochs) if self._rng.random() < self.failure_rate
                 else None)
        trial = _Trial(paths, concurrent.futures.Future(), self.objective(params),
                       self.stats.now, duration / epochs, epochs, fails)
        trial.future.set_running_or_notify_cancel()
        self._busy += 1
        self.stats.launched += 1
        self.stats.last_launch_s = self.stats.now
        self.stats.busy_at_last_launch = self.stats.busy_s
        if self._busy == self.workers and self.stats.fill_s is None:
            self.stats.fill_s, self.stats.busy_at_fill = self.stats.now, self.stats.busy_s
        self._schedule(trial)
        self._release()
        return trial.future

    def done(self, timeout: float, limit: int) -> list[concurrent.futures.Future[Any]]:
        self._charge()
        if not self._finished and timeout > 0 and self._events:
            # The driver waits: nothing happens on its side until the next trial event.
            self._advance(min(self._events[0][0], self.stats.now + timeout))
        out, self._finished = self._finished[:limit], self._finished[limit:]
        self._release()
        return out

    # ---- one trial ----------------------------------------------------------------------
    def _schedule(self, trial: _Trial) -> None:
        self._sequence += 1
        when = trial.started + trial.step_s * (trial.epoch + 1)
        heapq.heappush(self._events, (when, self._sequence, trial))

    def _epoch(self, trial: _Trial) -> None:
        if trial.fails_at_epoch == trial.epoch:
            self._end(trial, 1, TrialResult(STATUS_FAILED, reason="simulated failure"))
            return
        if trial.paths.stop_file.exists():
            self._end(trial, 0, TrialResult(STATUS_PRUNED, hostname=self.hostname))
            return
        trial.epoch += 1
        # Later epochs approach the final value from above, as a loss curve does.
        value = trial.value + 1.0 / trial.epoch - 1.0 / trial.epochs
        if self.epochs:
            with open(trial.paths.progress, "a") as progress:
                progress.write(json.dumps({"step": trial.epoch,
                                           "metrics": {self.metric: value}}) + "\n")
        if trial.epoch >= trial.epochs:
            self._end(trial, 0, TrialResult(STATUS_OK, objective=trial.value,
                                            metrics={self.metric: trial.value},
                                            hostname=self.hostname))
        else:
            self._schedule(trial)

    def _end(self, trial: _Trial, returncode: int, result: TrialResult) -> None:
        self._busy -= 1
        self.stats.ended += 1
        self.stats.ended_s += self.stats.now - trial.started
        trial.future.set_result({
            "returncode": returncode, "result": result,
            "log_tail": "simulated failure\n" if returncode else "",
            "hostname": self.hostname, "worker": f"{self.hostname}/0",
        })
        self._finished.append(trial.future)
