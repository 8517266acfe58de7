"""The driver: keeps the workers busy with trials and records every outcome.

It is the only process that writes the study. Each turn of its loop it
1. records up to STEP trials whose futures completed (COMPLETE, PRUNED or FAIL with a reason),
2. reads new progress lines of running trials, reports them and asks the pruner,
3. fills up to STEP free slots from one batched ask and launches each new trial,
4. writes the changes to the storage in one transaction, once STEP trials changed or FLUSH_S
   passed, and whenever it waits.
Small steps keep results and new trials interleaved: a freed worker waits for one step, never
for a wave of thousands of results to be recorded first. Trials run on a `TrialBackend`:
Parsl apps (`ParslBackend`), or the simulated cluster that benchmarks the loop at scale.
Ctrl-C, SIGTERM or the end of budget.wall_time stop it: no new trials, the trials in flight
recorded as interrupted (retried by `hpsearch resume`), Parsl shut down, no process left.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hpsearch import leftovers
from hpsearch.campaign import Campaign
from hpsearch.constraints import by_name, evaluate
from hpsearch.driver_faults import (
    EXIT_FAULT,
    EXIT_SIGNAL,
    FAULTS,
    describe_fault,
    is_broken_output,
    silence,
)
from hpsearch.entrypoint_check import trial_pythonpath
from hpsearch.infra_retries import retry_attrs
from hpsearch.objective import describe
from hpsearch.progress_line import ProgressLine, eta, format_duration
from hpsearch.sites import Site
from hpsearch.study_view import StudyView
from hpsearch.trial_backend import ParslBackend, TrialBackend
from workflows.trial_io import (
    STATUS_OK,
    STATUS_PRUNED,
    TrialPaths,
    TrialResult,
    finite_number,
    parse_progress_line,
)

POLL_S = 0.25  # how long the loop sleeps when nothing happens
STEP = 64  # results recorded, and trials started, per turn of the loop at most
FLUSH_S = 0.5  # changes wait at most this long in memory while the loop is busy
PROGRESS_POLL_S = 1.0  # how often the progress files of running trials are read ...
PROGRESS_READS_PER_S = 200  # ... at most: thousands of trials must not hammer a shared filesystem


@dataclass
class InFlight:
    number: int
    future: concurrent.futures.Future
    paths: TrialPaths
    started: float
    progress_offset: int = 0
    stop_requested: bool = False
    last_values: dict[str, float] = field(default_factory=dict)


def interpreter_bin_on_path() -> None:
    """Put the running interpreter's folder on PATH when it is missing there.

    Parsl starts its interchange and worker pools as programs found on PATH; they are
    installed next to this interpreter (a virtual environment's bin), which a batch job or a
    plain `/path/to/venv/bin/hpsearch` call may not have on PATH.
    """
    folder = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if folder and folder not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join(filter(None, [folder, path]))


def make_pruner(kind: str) -> optuna.pruners.BasePruner:
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


class Driver:
    def __init__(self, campaign: Campaign, site: Site, directory: Path, view: StudyView,
                 concurrency: int, display: ProgressLine | None = None,
                 backend: TrialBackend | None = None):
        self.campaign = campaign
        self.site = site
        self.directory = directory
        self.view = view
        self.concurrency = concurrency
        self.display = display or ProgressLine()
        self.backend: TrialBackend = backend or ParslBackend(site, directory)
        self.inflight: dict[int, InFlight] = {}
        self._numbers: dict[concurrent.futures.Future, int] = {}  # future -> trial number
        self.stop_reason: str | None = None
        self.faulted = False  # stopped by a fault (executor lost, disk full...): non-zero exit
        self.started = self.backend.now()
        # CPU seconds of the loop's parts, for the scale benchmark (the view keeps its own).
        self.cpu: dict[str, float] = {"dispatch": 0.0}
        self.finished_this_run = 0
        self._last_progress_poll = 0.0
        self._last_flush = self.started
        self._distributions = campaign.space.distributions()

    # ---- the loop ----------------------------------------------------------------------
    def run(self) -> int:
        """Drive until the budget is met or a stop is asked; 0 when the budget is met."""
        if self.remaining() == 0:
            self.display.event(self._summary("budget already met"))
            return 0
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        deadline = (self.started + self.campaign.budget.wall_time_s
                    if self.campaign.budget.wall_time_s else None)
        interpreter_bin_on_path()
        try:
            with self.backend.session():
                while True:
                    recorded = self._collect(block=False)
                    if self.stop_reason is None and (lost := self.backend.fault()) is not None:
                        self.stop_reason, self.faulted = lost, True
                    if self.stop_reason is None and deadline and self.backend.now() >= deadline:
                        self.stop_reason = "budget.wall_time reached"
                    if self.stop_reason is not None:
                        self.display.event(f"{self.stop_reason}: stopping; trials in flight are "
                                           "recorded as interrupted")
                        self._interrupt_inflight(self.stop_reason)
                        self.view.flush()
                        if self.backend.lost():
                            self._exit_without_parsl()
                        break
                    self._poll_progress()
                    started = self._fill_slots()
                    idle = not recorded and not started
                    self._flush(force=idle or not self.inflight)
                    if not self.inflight:
                        break  # nothing running and nothing left to submit: budget met
                    self._show_status()
                    if idle:
                        self._collect(block=True)
        except FAULTS as err:  # disk full, output closed, database gone (Parsl is down now)
            self._end_on_fault(err)
        finally:
            with contextlib.suppress(Exception):
                self.view.flush()  # what was recorded before an error is not lost
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.display.close()
            # Parsl is down; anything of this campaign still alive (a trial whose worker was
            # killed under it) goes now.
            leftovers.reap(self.directory)
        if self.stop_reason is not None:
            self.display.event(f"stopped ({self.stop_reason}); "
                               f"continue with: hpsearch resume {self.directory}")
            return self._exit_code()
        self.display.event(self._summary("budget met"))
        self.display.event(next_steps(self.directory))
        return 0

    def _flush(self, force: bool) -> None:
        """Write the turn's changes once enough of them gathered, or when the loop waits."""
        if force or self.view.pending() >= STEP or \
                self.backend.now() - self._last_flush >= FLUSH_S:
            self.view.flush()
            self._last_flush = self.backend.now()

    def _exit_without_parsl(self) -> None:
        """The interchange died (with the driver's process group on a batch system's SIGTERM
        to the whole job, or alone): Parsl's shutdown would wait for it forever. Everything
        is recorded, so end the campaign's processes and leave."""
        self.display.event("Parsl's interchange is gone; ending its workers and trials directly")
        leftovers.reap(self.directory)
        leftovers.release(self.directory)
        self.display.event(f"stopped ({self.stop_reason}); "
                           f"continue with: hpsearch resume {self.directory}")
        self.display.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(self._exit_code())

    def _exit_code(self) -> int:
        if self.faulted:
            return EXIT_FAULT
        return EXIT_SIGNAL if (self.stop_reason or "").startswith("SIG") else 0

    def _end_on_fault(self, err: BaseException) -> None:
        """Stop on a fault of the machine: say it once, record what can still be recorded."""
        if is_broken_output(err):
            silence(self.display.stream)
        self.faulted = True
        self.stop_reason = describe_fault(err)
        try:
            self.display.event(f"{self.stop_reason}: stopping; trials in flight are "
                               "recorded as interrupted")
            self._interrupt_inflight(self.stop_reason)
        except FAULTS:
            # The database takes no more writes: `resume` records them as interrupted.
            self.inflight.clear()

    def _on_signal(self, signum: int, _frame: Any) -> None:
        # Only a flag: writing from a signal handler can collide with the loop's own output.
        if self.stop_reason is None:
            self.stop_reason = signal.Signals(signum).name

    # ---- budget ------------------------------------------------------------------------
    def remaining(self) -> int | None:
        """Trials still to finish for the budget (None: bounded by wall time only)."""
        if self.campaign.budget.trials is None:
            return None
        return max(0, self.campaign.budget.trials - self.view.budget_used())

    def _fill_slots(self) -> int:
        """Start up to STEP trials on free slots; how many were started."""
        free = min(STEP, self.concurrency - len(self.inflight))
        remaining = self.remaining()
        if remaining is not None:
            free = min(free, remaining - len(self.inflight))
        if free <= 0:
            return 0
        space = self.campaign.space
        asked = self.view.ask(free, self._distributions,
                              {"trial_dir": lambda n: str(self._paths(n).trial_dir)},
                              conditional=space.suggest if space.conditional else None)
        for trial in asked:
            self._submit(trial.number, trial.params)
        return len(asked)

    def _paths(self, number: int) -> TrialPaths:
        return TrialPaths.of(self.directory, number)

    def _submit(self, number: int, params: dict[str, Any]) -> None:
        clock = time.process_time()
        paths = self._paths(number)
        paths.trial_dir.mkdir(parents=True, exist_ok=True)
        for stale in (paths.result, paths.progress, paths.stop_file):
            stale.unlink(missing_ok=True)
        paths.params.write_text(json.dumps(params, indent=2) + "\n")
        command = self.campaign.objective.trial_command(
            paths, seed=self.campaign.seed + number, campaign_dir=self.directory)
        future = self._launch(command, paths)
        self.inflight[number] = InFlight(number, future, paths, self.backend.now())
        self._numbers[future] = number
        self.cpu["dispatch"] += time.process_time() - clock

    def _launch(self, command: list[str], paths: TrialPaths) -> concurrent.futures.Future:
        """Hand one trial to the backend (Parsl: the plain app, or the MPI one)."""
        return self.backend.launch(command, paths, self._trial_env())

    def _trial_env(self) -> dict[str, str]:
        env = {k: str(v) for k, v in self.site.trial_env().items()}
        env[leftovers.ENV_MARK] = str(self.directory.resolve())
        # The campaign file's folder comes first, so `entrypoint = "mymodule:f"` next to it
        # imports; the package's own modules come from the environment.
        env["PYTHONPATH"] = trial_pythonpath(self.campaign, self.site)
        return env

    # ---- outcomes ----------------------------------------------------------------------
    def _collect(self, block: bool) -> int:
        """Record up to STEP finished trials; how many were recorded."""
        if not self.inflight:
            return 0
        recorded = 0
        for future in self.backend.done(POLL_S if block else 0, STEP):
            number = self._numbers.pop(future, None)
            if number is None or number not in self.inflight:
                continue  # recorded already (as interrupted at a stop)
            self._record(self.inflight.pop(number))
            recorded += 1
        return recorded

    def _record(self, entry: InFlight) -> None:
        self._read_progress(entry)  # the last epochs may have come with the result
        try:
            outcome = entry.future.result()
        except Exception as err:  # the worker or Parsl failed, not the trial itself
            self._infrastructure_failure(entry, err)
            return
        result: TrialResult | None = outcome.get("result")
        if result is not None:
            result = result.settle(self.campaign.objective.metric)
        returncode = outcome.get("returncode")
        constraints: dict[str, float] | None = None
        attrs: dict[str, Any] = {
            "hostname": outcome.get("hostname") or (result and result.hostname),
            "worker": outcome.get("worker"),
        }
        attrs.update(retry_attrs(entry.future))
        if result is not None:
            attrs.update(result.recorded)
            if self.campaign.constraints and result.status in (STATUS_OK, STATUS_PRUNED):
                attrs.update(evaluate(self.campaign.constraints, attrs))
                constraints = by_name(self.campaign.constraints, attrs)
        if entry.stop_requested and returncode == 0 and result is not None and (
                result.status in (STATUS_OK, STATUS_PRUNED)):
            # Asked to stop by the pruner: its objective is that of a cut-short run.
            frozen = self.view.finish(entry.number, TrialState.PRUNED, None, attrs, constraints)
            self._finished(frozen, "pruned" + (f" (returned {result.objective:.6g})"
                                               if result.objective is not None else ""))
        elif returncode == 0 and result is not None and result.status == STATUS_OK and (
                self._values(result) is not None):
            values = self._values(result)
            frozen = self.view.finish(entry.number, TrialState.COMPLETE, values, attrs,
                                      constraints)
            self._finished(frozen, "objective " + " ".join(f"{v:.6g}" for v in values or ()))
        elif returncode == 0 and result is not None and result.status == STATUS_PRUNED:
            frozen = self.view.finish(entry.number, TrialState.PRUNED, None, attrs, constraints)
            self._finished(frozen, "pruned")
        else:
            reason = self._fail_reason(returncode, result, outcome.get("log_tail", ""))
            attrs.update(fail_reason=reason, log_tail=outcome.get("log_tail", ""))
            frozen = self.view.finish(entry.number, TrialState.FAIL, None, attrs)
            self._finished(frozen, f"failed: {reason}")

    def _values(self, result: TrialResult) -> list[float] | None:
        """The objective, then each further metric of a multi-objective campaign (None when
        one is missing or not finite)."""
        values = [result.objective]
        for metric in self.campaign.objective.metrics[1:]:
            values.append(finite_number(result.metrics.get(metric)))
        return None if any(v is None for v in values) else values  # type: ignore[return-value]

    def _fail_reason(self, returncode: Any, result: TrialResult | None, log_tail: str) -> str:
        missing = [m for m in self.campaign.objective.metrics[1:]
                   if finite_number(result.metrics.get(m)) is None] if result else []
        if result is not None and result.status == STATUS_OK and missing:
            return f"the result holds no finite {missing[0]!r} (an objective of the campaign)"
        if result is not None and result.reason:
            reason = result.reason
        else:
            last = [line for line in log_tail.splitlines() if line.strip()]
            reason = "no result file" + (f"; last log line: {last[-1].strip()}" if last else "")
        if returncode not in (0, None):
            reason = f"exit code {returncode}: {reason}"
        return " ".join(reason.split())[:500]

    def _infrastructure_failure(self, entry: InFlight, err: BaseException) -> None:
        # Parsl has already retried it as often as the site allows (lost node or worker),
        # so the point failed for good; the reason says it was not the trial's own error.
        reason = " ".join(f"{type(err).__name__}: {err}".split())[:500]
        frozen = self.view.finish(entry.number, TrialState.FAIL, None,
                                  {"fail_reason": f"infrastructure: {reason}",
                                   **retry_attrs(entry.future)})
        self._finished(frozen, f"failed on the infrastructure: {reason}")

    def _finished(self, frozen: optuna.trial.FrozenTrial, what: str) -> None:
        self.finished_this_run += 1
        self.display.event(f"trial {frozen.number} {what}  [{self._summary()}]")

    def _interrupt_inflight(self, reason: str) -> None:
        """Record the trials in flight: done ones as usual, the rest as interrupted."""
        for entry in list(self.inflight.values()):
            del self.inflight[entry.number]
            self._numbers.pop(entry.future, None)
            if entry.future.done() and entry.future.exception() is None and (
                    (entry.future.result() or {}).get("returncode") == 0):
                self._record(entry)
                continue
            frozen = self.view.finish(entry.number, TrialState.FAIL, None,
                                      {"interrupted": True,
                                       "fail_reason": f"interrupted: {reason}"})
            self.display.event(f"trial {frozen.number} interrupted")

    # ---- intermediate values and pruning ----------------------------------------------
    def _poll_progress(self) -> None:
        now = self.backend.now()
        period = max(PROGRESS_POLL_S, len(self.inflight) / PROGRESS_READS_PER_S)
        if now - self._last_progress_poll < period:
            return
        self._last_progress_poll = now
        for entry in self.inflight.values():
            # The pruner is asked only about a trial that reported something new.
            if (self._read_progress(entry) and self.campaign.pruner != "none"
                    and not entry.stop_requested and self.view.should_prune(entry.number)):
                entry.stop_requested = True
                entry.paths.stop_file.touch()
                self.display.event(f"trial {entry.number} asked to stop (pruned)")

    def _read_progress(self, entry: InFlight) -> int:
        """Report the trial's new progress lines; how many values were reported."""
        try:
            with open(entry.paths.progress, "rb") as handle:
                handle.seek(entry.progress_offset)
                chunk = handle.read()
        except OSError:
            return 0
        end = chunk.rfind(b"\n")
        if end < 0:
            return 0  # no complete line yet
        entry.progress_offset += end + 1
        metric = self.campaign.objective.metric
        reported = 0
        for raw in chunk[: end + 1].splitlines():
            parsed = parse_progress_line(raw, metric)
            if parsed is None:
                continue  # a line without the campaign's metric as a number: nothing to report
            step, value = parsed
            entry.last_values[metric] = value
            self.view.report(entry.number, step, value)
            reported += 1
        return reported

    # ---- display -----------------------------------------------------------------------
    def _summary(self, prefix: str = "") -> str:
        counts = self.view.counts()
        used = self.view.budget_used()
        total = self.campaign.budget.trials
        best = self.view.best()
        parts = [prefix] if prefix else []
        parts.append(f"done {used}/{total}" if total else f"done {used}")
        parts.append(f"running {len(self.inflight)}")
        parts.append(f"failed {counts.get('fail', 0)}")
        if len(self.campaign.objective.metrics) > 1:
            parts.append(f"pareto front {len(self.view.memory.best_trials)}")
        elif best is not None:
            parts.append(f"best {best.value:.6g} (#{best.number})")
        elapsed = self.backend.now() - self.started
        left = eta(self.finished_this_run, elapsed, self.remaining())
        if left is not None:
            parts.append(f"eta {format_duration(left)}")
        elif self.inflight:
            parts.append(self._latest_progress())
        return ", ".join(parts)

    def _latest_progress(self) -> str:
        """Before any trial finished: the last epoch a running trial reported, or its age."""
        metric = self.campaign.objective.metric
        reported = [(max(self.view.trial(e.number).intermediate_values), e)
                    for e in self.inflight.values() if e.last_values]
        if reported:
            step, entry = max(reported, key=lambda pair: pair[0])
            return (f"trial {entry.number} step {step} {metric} "
                    f"{entry.last_values[metric]:.4g}")
        oldest = min(e.started for e in self.inflight.values())
        return f"first trials running for {format_duration(time.time() - oldest)}"

    def _show_status(self) -> None:
        if self.display.due():  # composing the line costs more than an idle turn of the loop
            self.display.status(f"{self.campaign.name}: {self._summary()}")


def next_steps(directory: Path) -> str:
    return (f"next: hpsearch best {directory}  |  hpsearch report {directory} -o report.html"
            f"  |  hpsearch dashboard {directory}")


def drive(campaign: Campaign, site: Site, directory: Path, storage: optuna.storages.BaseStorage,
          concurrency: int, display: ProgressLine | None = None,
          backend: TrialBackend | None = None) -> int:
    """Claim the campaign, build the in-memory view, prepare the objective, run the driver."""
    from hpsearch.samplers import make_sampler

    leftovers.claim(directory)
    display = display or ProgressLine()
    if len(campaign.objective.metrics) > 1 and campaign.pruner != "none":
        display.event(
            f"pruner {campaign.pruner}: Optuna cannot prune a multi-objective study; "
            "pruning is off for this campaign")
        campaign = dataclasses.replace(campaign, pruner="none")
    try:
        sampler = make_sampler(campaign.sampler, campaign.seed, campaign.n_init,
                               group=campaign.space.conditional)
        view = StudyView(storage, campaign.name, sampler, make_pruner(campaign.pruner),
                         budget_trials=campaign.budget.trials)
        driver = Driver(campaign, site, directory, view, concurrency, display, backend)
        if driver.remaining() == 0:  # a finished campaign: nothing to prepare or run
            display.event(f"campaign {campaign.name}: "
                          + driver._summary("budget already met"))
            display.event(next_steps(directory))
            return 0
        display.event(f"campaign {campaign.name} in {directory}: {describe(campaign.objective)}; "
                      f"site {site.name}, {concurrency} trials in flight")
        campaign.objective.prepare(directory, campaign.seed, log=display.event)
        return driver.run()
    finally:
        leftovers.release(directory)
        os.environ.pop(leftovers.ENV_MARK, None)
