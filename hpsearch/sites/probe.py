"""`hpsearch sites probe SITE`: what the threads of a trial really get on a site's workers.

One probe trial (`python -m workflows.probe`) per worker slot goes through the same path as
a campaign's trials: the site's Parsl Config, the trial apps of `workflows.apps` (the MPI
one, with the site's resource specification, for multi-rank sites) and the site's trial
environment. Each reports, per rank, the CPU mask of every thread torch and the loader start;
`checks()` turns that into the properties binding must hold.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch import leftovers
from hpsearch.errors import UserError
from hpsearch.sites.render import device_line

if TYPE_CHECKING:
    from hpsearch.sites.site import Site

def cpus(text: str) -> set[int]:
    from workflows.cpu_list import parse_cpu_list

    return parse_cpu_list(text)


def run_probes(site: Site, directory: Path, timeout: float) -> list[dict[str, Any]]:
    """One probe per worker slot through the site's executor; their outcomes, in slot order.

    Parsl is shut down and every process the probes started is gone when this returns.
    """
    import parsl

    from hpsearch.sites.parsl_config import build_config
    from workflows.apps import mpi_trial_app, trial_app

    config = build_config(site, directory / "parsl")  # refuses a site that cannot launch
    directory.mkdir(parents=True, exist_ok=True)
    previous_mark = os.environ.get(leftovers.ENV_MARK)
    leftovers.claim(directory)  # marks Parsl's processes and the probes as ours, to reap
    env = {k: str(v) for k, v in site.trial_env().items()}
    env[leftovers.ENV_MARK] = str(directory.resolve())
    outcomes: list[dict[str, Any]] = []
    # As in the driver: Ctrl-C must reach this process only, not Parsl's interchange (whose
    # death would leave the shutdown waiting), so Parsl's processes start with SIGINT blocked.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        with parsl.load(config) as dfk:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            leftovers.record_helpers(directory, [
                executor.interchange_proc.pid for executor in dfk.executors.values()
                if getattr(executor, "interchange_proc", None) is not None])
            futures = []
            for slot in range(site.slots):
                trial_dir = directory / f"slot{slot}"
                out = trial_dir / "probe.json"
                command = [sys.executable, "-m", "workflows.probe", "--out", str(out)]
                if site.mpi:
                    futures.append(mpi_trial_app(
                        command, str(trial_dir), env, str(out),
                        parsl_resource_specification=site.resource_specification()))
                else:
                    futures.append(trial_app(command, str(trial_dir), env, str(out)))
            deadline = time.monotonic() + timeout
            for slot, future in enumerate(futures):
                try:
                    outcome = future.result(timeout=max(0.0, deadline - time.monotonic()))
                except TimeoutError as err:
                    raise UserError(
                        f"probe of site {site.name}: no result from worker slot {slot} after "
                        f"{timeout:g} s (a batch block may still be queued); raise --timeout, "
                        f"or see the Parsl logs in {directory / 'parsl'} (kept)") from err
                except Exception as err:  # Parsl's own failure (lost worker, bad config)
                    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
                    raise UserError(
                        f"probe of site {site.name}: worker slot {slot} failed: "
                        f"{type(err).__name__}: {first}; see {directory / 'parsl'}") from err
                # The probe's report is no trial result: it is read here, not by the app.
                report = _read_report(directory / f"slot{slot}" / "probe.json")
                if outcome["returncode"] != 0 or report is None:
                    last = (outcome["log_tail"].strip().splitlines() or ["no output"])[-1]
                    raise UserError(
                        f"probe of site {site.name}: the probe on {outcome['worker']} exited "
                        f"with code {outcome['returncode']}: {last}; see "
                        f"{directory / f'slot{slot}' / 'trial.log'}")
                outcomes.append({"slot": slot, "worker": outcome["worker"],
                                 "ranks": report["ranks"]})
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        leftovers.reap(directory)
        leftovers.release(directory)
        if previous_mark is None:
            os.environ.pop(leftovers.ENV_MARK, None)
        else:
            os.environ[leftovers.ENV_MARK] = previous_mark
    return outcomes


def checks(outcomes: list[dict[str, Any]]) -> dict[str, bool]:
    """The properties binding must hold, from the probes' reports."""
    ranks = [rank for outcome in outcomes for rank in outcome["ranks"]]
    worker_masks = [cpus(outcome["ranks"][0]["process_cpus"]) for outcome in outcomes]
    inside = all(cpus(t["cpus"]) <= cpus(rank["process_cpus"]) and
                 cpus(t["cpus"]) <= cpus(rank["cpus"])
                 for rank in ranks for t in rank["threads"])
    distinct = True
    for rank in ranks:
        helpers = [cpus(t["cpus"]) for t in rank["threads"] if t["role"] == "intra-op"]
        if rank["bound"]:  # bound helpers each hold one core of their own
            distinct &= all(not (a & b) for i, a in enumerate(helpers) for b in helpers[i + 1:])
    rank_masks_disjoint = True
    for outcome in outcomes:
        masks = [cpus(rank["cpus"]) for rank in outcome["ranks"]]
        rank_masks_disjoint &= all(not (a & b) for i, a in enumerate(masks)
                                   for b in masks[i + 1:])
    return {
        "worker masks disjoint": all(not (a & b) for i, a in enumerate(worker_masks)
                                     for b in worker_masks[i + 1:]),
        "every thread inside its worker's and rank's mask": inside,
        "bound intra-op threads on distinct cores": distinct,
        "ranks of a trial on different cores": rank_masks_disjoint,
        "one probe per worker": len({o["worker"] for o in outcomes}) == len(outcomes),
    }


def render(site: Site, outcomes: list[dict[str, Any]], verdicts: dict[str, bool]) -> str:
    lines = [f"site {site.name}: {len(outcomes)} worker slot(s), "
             f"{site.settings['mpi']['ranks_per_trial']} rank(s) per trial, intra-op "
             f"{site.intra_op_threads}, inter-op {site.inter_op_threads}",
             f"per-worker device variable: {device_line(site)}", ""]
    for outcome in outcomes:
        for rank in outcome["ranks"]:
            accel = " ".join(f"{k}={v}" for k, v in rank["accelerators"].items()) or "none"
            lines.append(
                f"worker {outcome['worker']}  rank {rank.get('rank', 0)} (local "
                f"{rank['local_rank']})  process mask {rank['process_cpus']}  rank mask "
                f"{rank['cpus']}  torch threads {rank['torch_threads']} (inter-op "
                f"{rank['torch_interop_threads']})  accelerators: {accel}")
            env = rank["env"]
            shown = [f"{k}={env[k]}" for k in ("OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES",
                                               "OMP_WAIT_POLICY", "GOMP_CPU_AFFINITY")
                     if k in env]
            lines.append("  env: " + (" ".join(shown) or "(no OpenMP variables)"))
            lines.append(f"  {'THREAD':<9} {'TID':>8}  {'NAME':<15} CPUS")
            for t in rank["threads"]:
                lines.append(f"  {t['role']:<9} {t['tid']:>8}  {t['name']:<15} {t['cpus']}")
            lines.append("")
    for name, ok in verdicts.items():
        lines.append(f"{name}: {'yes' if ok else 'NO'}")
    return "\n".join(lines) + "\n"


def probe(site: Site, directory: Path | None, timeout: float, as_json: bool) -> int:
    keep = directory is not None
    if directory is None:
        directory = Path.cwd() / f"hpsearch-probe-{site.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if directory.exists() and any(directory.iterdir()):
        raise UserError(f"probe directory {directory} is not empty; give a new --dir")
    outcomes = run_probes(site, directory, timeout)
    verdicts = checks(outcomes)
    if as_json:
        print(json.dumps({"site": site.name, "device_variable": device_line(site),
                          "workers": outcomes, "checks": verdicts}, indent=1))
    else:
        print(render(site, outcomes, verdicts), end="")
    if not keep:
        shutil.rmtree(directory, ignore_errors=True)
    return 0 if all(verdicts.values()) else 1


def _read_report(path: Path) -> dict[str, Any] | None:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and isinstance(report.get("ranks"), list) else None
