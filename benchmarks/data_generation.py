"""Synthetic event generation speed on one core, against the targets.

    python benchmarks/data_generation.py [--events 1024] [--size 512]

Generates segmentation events the way ``write_dataset`` does (blocks of events sharing
every numpy call) and, side by side, one event at a time. Reports events/s from CPU
time (robust on a shared node) and from wall time, and the ratio to the target:
>= 1,000 2D events/s and >= 200 3D events/s.
"""

from __future__ import annotations

import os

# one thread everywhere, set before numpy or torch start their pools
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from models.data.generator import generate_event, generate_events  # noqa: E402
from models.data.writer import EVENTS_PER_BLOCK  # noqa: E402

TARGETS = {"2d": 1000.0, "3d": 200.0}


def measure(kind: str, events: int, size: int, block: int, seed: int) -> tuple[float, float, float]:
    """(cpu events/s, wall events/s, mean active voxels or pixels per plane)."""
    done, active = 0, 0.0
    cpu, wall = time.process_time(), time.perf_counter()
    while done < events:
        rng = np.random.default_rng([seed, done])
        count = min(block, events - done)
        if block == 1:
            batch = [generate_event(kind, rng, size=size)]
        else:
            batch = generate_events(kind, rng, count, size=size)
        active += sum(len(e) for e in batch)
        done += len(batch)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    per_plane = 3 if kind == "2d" else 1
    return events / cpu, events / wall, active / events / per_plane


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1024)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    generate_events("2d", np.random.default_rng(0), 4, size=args.size)  # warm-up

    print(f"size {args.size}, {args.events} events per row, 1 thread, segmentation events; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"{'kind':4} {'mode':>10} {'cpu ev/s':>9} {'wall ev/s':>9} {'target':>7} "
        f"{'cpu/target':>10} {'occupancy':>10}"
    )
    for kind in ("2d", "3d"):
        rates = {}
        for mode, block, n in (
            ("batched", EVENTS_PER_BLOCK, args.events),
            ("one-by-one", 1, max(args.events // 4, 32)),
        ):
            cpu, wall, active = measure(kind, n, args.size, block, args.seed)
            rates[mode] = cpu
            volume = args.size ** (2 if kind == "2d" else 3)
            print(
                f"{kind:4} {mode:>10} {cpu:9.0f} {wall:9.0f} {TARGETS[kind]:7.0f} "
                f"{cpu / TARGETS[kind]:10.2f} {100 * active / volume:9.4f}%"
            )
        print(f"{kind:4} batched / one-by-one: {rates['batched'] / rates['one-by-one']:.1f}x")


if __name__ == "__main__":
    main()
