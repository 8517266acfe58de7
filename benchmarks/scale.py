"""Can the driver keep thousands of workers busy? The real driver on a simulated cluster.

Each configuration runs in a fresh process: a Hartmann-6 campaign created as `launch` does
(SQLite file, Latin-hypercube design), driven by the real `Driver` (sampler, storage,
progress and pruning handling) whose trials run on `SimulatedCluster`: N workers, trial
durations 60 s +- 20 % (uniform), a virtual clock that advances by the driver's own CPU time,
so a slow driver shows up as idle workers. Printed per configuration:

- steady-state utilisation: busy worker-seconds over available ones, from the moment every
  worker first has a trial until the last trial is launched; whole-run utilisation;
- time to fill every worker (virtual seconds from the start);
- the driver's CPU milliseconds per trial: sampler (asks), storage (batched writes),
  dispatch (trial folder, params.json, launch), bookkeeping (the rest of the loop);
- peak driver memory (maximum resident set of the process);
- the best value found. For the largest campaigns, also the best of a sequential TPE run
  (one worker, the same driver, the same number of trials; its trials last 1 s, as with one
  worker their length changes nothing but how often the idle driver polls).

    python benchmarks/scale.py            # TPE and GP: 1,024 / 4,096 workers x 1k / 5k / 20k
    python benchmarks/scale.py --quick    # 1k / 5k trials only
    python benchmarks/scale.py --jobs 1   # one configuration at a time (default: 2 at once)

Configurations run in child processes, `--jobs` at once, the longest first; each measures
its own CPU time, so running two side by side changes the wall time, not the figures.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _test_functions import PROBLEMS  # noqa: E402

from hpsearch.simulated_campaign import (  # noqa: E402
    drive_simulated,
    new_cluster,
    simulated_campaign,
)
from hpsearch.simulated_cluster import Durations, SimulatedCluster  # noqa: E402
from hpsearch.storage import open_campaign  # noqa: E402

PROBLEM = PROBLEMS["hartmann6"]
N_INIT = 64  # the Latin-hypercube design before the model takes over


def _cluster(workers: int, seed: int) -> SimulatedCluster:
    # One worker: trial lengths only set how often the idle driver polls, so keep them short.
    return new_cluster(workers, PROBLEM.objective,
                       durations=Durations("uniform", 60 if workers > 1 else 1, 0.2), seed=seed)


def one_run(workers: int, trials: int, sampler: str, seed: int,
            keep: Path | None = None) -> dict[str, Any]:
    """One campaign in this process (kept in `keep` if given); what the table prints."""
    started = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        campaign = simulated_campaign(PROBLEM.search_space, trials, sampler=sampler,
                                      n_init=N_INIT, seed=seed)
        run = drive_simulated(keep or Path(tmp) / "campaign", _cluster(workers, seed), campaign)
        best = run.driver.view.best()
        recorded = run.driver.view.budget_used()
    stats = run.cluster.stats
    split = {name: 1000 * seconds / trials for name, seconds in run.cpu_split().items()}
    return {
        "workers": workers, "trials": trials, "sampler": sampler, "recorded": recorded,
        "steady": stats.steady_utilisation, "whole": stats.utilisation, "fill_s": stats.fill_s,
        "virtual_s": stats.now, **{f"ms_{k}": v for k, v in split.items()},
        "peak_mb": _own_peak_mb(),
        "best": best.value if best else None, "host_cpu_s": time.process_time() - started,
    }


def _own_peak_mb() -> float:
    """This process's peak resident memory. Linux's ru_maxrss also counts the parent's size
    at the fork, so the kernel's high-water mark of this process's own memory is read first."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(workers: int, trials: int, sampler: str, seed: int,
             keep: Path | None = None) -> dict[str, Any]:
    """`one_run` in a fresh process, so its peak memory is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(workers), str(trials), sampler, str(seed),
         str(keep or "")], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def resume_first_launch(directory: Path, extra: int) -> float:
    """Resume the campaign with `extra` more trials; this process's CPU seconds from its
    start (imports included) to the first trial launched."""
    study, _ = open_campaign(str(directory))
    table = dict(study.user_attrs["campaign"])
    table["budget"] = {**table["budget"], "trials": table["budget"]["trials"] + extra}
    study.set_user_attr("campaign", table)
    run = drive_simulated(directory, _cluster(4096, 0))
    assert run.cluster.stats.first_launch_cpu_s is not None
    return run.cluster.stats.first_launch_cpu_s


# Runs one CLI command, then reports its own peak resident memory: VmHWM starts afresh
# with the new program, while the ru_maxrss a parent reads also counts the forked copy of
# the parent before exec.
_CLI_THEN_PEAK = """
import sys
from pathlib import Path
from hpsearch.cli import main
try:
    code = main(sys.argv[1:])
finally:
    peak = next(line for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    sys.stderr.write("\\n" + peak + "\\n")
sys.exit(code)
"""


def _cli_cost(args: list[str]) -> tuple[float, float]:
    """CPU seconds and own peak MB of one `hpsearch` command in a child process."""
    argv = [sys.executable, "-c", _CLI_THEN_PEAK, *args]
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        err.seek(0)
        text = err.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"hpsearch {' '.join(args)} failed: {text[-500:]}")
    peak_kb = float(text.strip().splitlines()[-1].split()[1])
    return usage.ru_utime + usage.ru_stime, peak_kb / 1024


def startup_costs(directory: Path, trials: int) -> str:
    lines = [f"\nRead-only commands and resume on the {trials:,}-trial campaign "
             "(CPU seconds of the whole process, imports included; its own peak resident "
             "memory):"]
    for name, args in (("status", ["status", str(directory)]),
                       ("best --top 10", ["best", str(directory), "--top", "10"])):
        cpu, peak = _cli_cost(args)
        lines.append(f"  hpsearch {name}: {cpu:.1f} s CPU, {peak:.0f} MB")
    out = subprocess.run([sys.executable, __file__, "--resume-first", str(directory)],
                         check=True, capture_output=True, text=True)
    first = float(out.stdout.strip().splitlines()[-1])
    lines.append(f"  resume (budget raised by 100): first trial launched after {first:.1f} s CPU")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table(rows: list[dict]) -> str:
    head = ("| sampler | workers | trials | steady util % | whole util % | fill s | driver "
            "ms/trial (sampler / storage / dispatch / bookkeeping) | peak MB | best | host CPU s |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        total = sum(r[f"ms_{k}"] for k in ("sampler", "storage", "dispatch", "bookkeeping"))
        split = " / ".join(f"{r[f'ms_{k}']:.1f}"
                           for k in ("sampler", "storage", "dispatch", "bookkeeping"))
        lines.append(
            f"| {r['sampler']} | {r['workers']:,} | {r['trials']:,} | {_pct(r['steady'])} | "
            f"{_pct(r['whole'])} | {_num(r['fill_s'], '.1f')} | {total:.1f} ({split}) | "
            f"{r['peak_mb']:.0f} | {_num(r['best'], '.4f')} | {r['host_cpu_s']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 5k trials only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="configurations run at once")
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--resume-first", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        workers, trials, sampler, seed, keep = args.one
        print(json.dumps(one_run(int(workers), int(trials), sampler, int(seed),
                                 Path(keep) if keep else None)))
        return
    if args.resume_first:
        print(resume_first_launch(args.resume_first, 100))
        return
    clock = time.monotonic()
    sizes = (1000, 5000) if args.quick else (1000, 5000, 20000)
    largest = max(sizes)
    scratch = Path(tempfile.mkdtemp())
    kept = scratch / "largest"
    configs = [(w, n, s) for s in ("tpe", "gp") for w in (1024, 4096) for n in sizes]
    jobs: dict[tuple[int, int, str], Path | None] = {
        config: kept if config == (4096, largest, "tpe") else None for config in configs}
    jobs[(1, largest, "tpe")] = None  # the sequential baseline
    results: dict[tuple[int, int, str], dict] = {}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        # The longest first, so that the last to start are short.
        futures = {pool.submit(in_child, w, n, s, args.seed, keep): (w, n, s)
                   for (w, n, s), keep in sorted(jobs.items(), key=lambda j: -j[0][1])}
        for future in concurrent.futures.as_completed(futures):
            workers, trials, sampler = key = futures[future]
            results[key] = future.result()
            print(f"done: {sampler} {workers} workers {trials} trials "
                  f"(host CPU {results[key]['host_cpu_s']:.0f} s, "
                  f"{time.monotonic() - clock:.0f} s since start)", file=sys.stderr, flush=True)
    print(table([results[config] for config in configs]), flush=True)
    print(startup_costs(kept, largest), flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    sequential = results[(1, largest, "tpe")]
    print(f"\nHartmann-6 ({PROBLEM.minimum} at the minimum), {largest:,} trials: best "
          f"{sequential['best']:.4f} by sequential TPE (one worker; host CPU "
          f"{sequential['host_cpu_s']:.0f} s); with 4,096 workers "
          f"{results[(4096, largest, 'tpe')]['best']:.4f} by TPE, "
          f"{results[(4096, largest, 'gp')]['best']:.4f} by GP")
    print(f"wall time of the whole benchmark: {time.monotonic() - clock:.0f} s "
          f"({args.jobs} configurations at once)")


if __name__ == "__main__":
    main()
