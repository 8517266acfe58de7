"""Affinity benchmark: does the site's thread binding help or hurt a real training trial?

    python benchmarks/affinity.py                 # ~5 min on 2 busy cores
    python benchmarks/affinity.py --repeats 1     # ~2 min

Runs the real trial command (``python -m workflows.train --model uresnet2d``, the default
2D U-ResNet on synthetic 512x512 events) in three layouts of this machine's two cores:
2 ranks x 1 thread (``mpiexec -n 2``), 1 rank x 2 threads and 1 rank x 1 thread. Each runs
with the `local` site's trial environment (binding: OMP_PROC_BIND=true, which the trial
turns into per-rank cores and explicit OMP_PLACES) and with the same environment minus the
binding, interleaved, repeats alternating, so load from other users of the machine falls on
both. Both arms wait passively (OMP_WAIT_POLICY=passive, what the site's KMP_BLOCKTIME=0
asks of Intel's OpenMP, unless the site file sets it): spinning OpenMP threads on a shared
2-core machine made a 2-thread step 4x slower here, which would swamp the comparison.
Reported per layout: the median and the best training images/s over the repeats (on a
machine shared with other jobs the best run is the least disturbed one), and the median of
the bound/unbound ratios of runs made one right after the other (paired, so a change of load
between repeats cancels). The 1 rank x 1 thread row doubles as an A/A check: with one
thread and the whole machine, bound and unbound threads have the same masks (see
`hpsearch sites probe local --set workers=1`), so its ratio shows the noise of the machine.
Targets: binding never slower; 2 ranks >= 1.6 x the throughput of 1 rank x 1 thread.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LAYOUTS = (("2 ranks x 1 thread", 2, 1), ("1 rank x 2 threads", 1, 2),
           ("1 rank x 1 thread", 1, 1))
BINDING_VARS = ("OMP_PROC_BIND", "OMP_PLACES")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each configuration")
    parser.add_argument("--steps", type=int, default=15, help="training steps per rank per run")
    parser.add_argument("--events", type=int, default=240, help="synthetic events generated")
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and results here")
    return parser.parse_args()


def site_env(bound: bool, threads: int) -> dict[str, str]:
    """The local site's trial environment, as the driver hands it to a trial."""
    from hpsearch.sites.site import load_site

    env = dict(os.environ)
    for name in BINDING_VARS:
        env.pop(name, None)
    env.update(load_site("local").trial_env())
    env.setdefault("OMP_WAIT_POLICY", "passive")
    env["HPSEARCH_INTRA_OP_THREADS"] = str(threads)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    if not bound:
        for name in BINDING_VARS:
            env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return env


def run(data: Path, out: Path, ranks: int, threads: int, bound: bool, steps: int) -> float:
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").unlink(missing_ok=True)
    (out / "params.json").write_text("{}")  # the model's defaults
    launcher = ["mpiexec", "-n", str(ranks)] if ranks > 1 else []
    command = [*launcher, sys.executable, "-m", "workflows.train", "--model", "uresnet2d",
               "--data", str(data), "--params", str(out / "params.json"),
               "--out", str(out / "result.json"), "--epochs", "1",
               "--steps-per-epoch", str(steps), "--val-fraction", "0.01", "--device", "cpu"]
    subprocess.run(command, env=site_env(bound, threads), check=True,
                   stdout=subprocess.DEVNULL)
    return float(json.loads((out / "result.json").read_text())["images_per_s"])


def main() -> int:
    args = parse_args()
    if shutil.which("mpiexec") is None:
        print("affinity: needs mpiexec on PATH (pip install mpi4py mpich)", file=sys.stderr)
        return 2
    from models.data import write_dataset

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="affinity-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "seg2d.h5"
    if not data.exists():
        write_dataset(data, "2d", n_events=args.events, seed=1, progress=False)
    print(f"affinity benchmark: uresnet2d defaults, {args.steps} steps per rank per run, "
          f"{args.repeats} repeat(s), {os.cpu_count()} CPUs (shared machine: ratios measured "
          "side by side, absolute numbers indicative)")
    print("  $ [mpiexec -n R] python -m workflows.train --model uresnet2d --data seg2d.h5 "
          f"--epochs 1 --steps-per-epoch {args.steps} --device cpu ...   "
          "(env: local site's, HPSEARCH_INTRA_OP_THREADS=T, "
          f"OMP_WAIT_POLICY={site_env(True, 1)['OMP_WAIT_POLICY']}, with / without "
          "OMP_PROC_BIND)")
    rates: dict[tuple[str, bool], list[float]] = {}
    for repeat in range(args.repeats):
        order = (True, False) if repeat % 2 == 0 else (False, True)
        for name, ranks, threads in LAYOUTS:
            for bound in order:
                rate = run(data, workdir / "runs", ranks, threads, bound, args.steps)
                rates.setdefault((name, bound), []).append(rate)
                print(f"  run {repeat + 1}: {name:<20} binding {'on ' if bound else 'off'} "
                      f"{rate:7.1f} images/s", flush=True)
    median = {key: statistics.median(values) for key, values in rates.items()}
    best = {key: max(values) for key, values in rates.items()}
    print(f"\n  {'layout':<20} {'bound img/s':>15} {'unbound img/s':>15} {'bound/unbound':>14}")
    print(f"  {'':<20} {'median / best':>15} {'median / best':>15} {'paired median':>14}")
    slower = []
    for name, _, _ in LAYOUTS:
        on, off = (name, True), (name, False)
        paired = statistics.median(a / b for a, b in zip(rates[on], rates[off], strict=True))
        print(f"  {name:<20} {median[on]:>7.1f} / {best[on]:<5.1f} {median[off]:>7.1f} / "
              f"{best[off]:<5.1f} {paired:>14.2f}")
        if paired < 1.0:
            slower.append(f"{name} {paired:.2f}x")
    two, one = (LAYOUTS[0][0], True), (LAYOUTS[2][0], True)
    print(f"\n  2 ranks x 1 thread / 1 rank x 1 thread, bound: {median[two] / median[one]:.2f}x "
          f"median, {best[two] / best[one]:.2f}x best (target >= 1.6)")
    print("  (1 rank x 1 thread: same masks either way, its ratio is the machine's noise)")
    print("  binding never slower (paired): " + (
        "yes" if not slower else "no: " + ", ".join(slower)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
