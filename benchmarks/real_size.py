"""Training at real detector size: sbnd-wire events (three 1280 x 2048 planes) on CPU.

    python benchmarks/real_size.py [--batches 1 2 3 4] [--steps 2] [--threads 2]

For each batch size, a fresh process builds the default uresnet2d (three classes: the
cosmic-tagging labels), takes one warm-up step and ``--steps`` timed training steps (forward,
backward, Adam) on generated sbnd-wire events, and reports wall and CPU seconds per step and
the process's peak resident memory. CPU time is less distorted than wall time by other work
on a shared machine; peak memory is not distorted at all.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

# the package before this folder, whose kernels.py would shadow it
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def one(batch: int, steps: int, threads: int) -> dict[str, float]:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from models import build_model
    from models.data import collate, generate_events

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    events = generate_events("2d", np.random.default_rng(0), batch, detector="sbnd-wire")
    data = collate(events, list(range(batch)), "2d", (1280, 2048))
    model = build_model("uresnet2d", {}, num_classes=3)
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    wall, cpu = [], []
    for _ in range(steps + 1):
        started, used = time.perf_counter(), time.process_time()
        tensor = data.tensor
        optimizer.zero_grad()
        loss = F.cross_entropy(model(tensor.replace(torch.log1p(tensor.feats))), data.origin)
        loss.backward()
        optimizer.step()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    return {"batch": batch, "pixels": int(data.feats.shape[0]),
            "wall_s": float(np.mean(wall[1:])), "cpu_s": float(np.mean(cpu[1:])),
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the per-batch child
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.steps, args.threads)))
        return 0
    print(f"uresnet2d defaults, 3 classes, sbnd-wire events, {args.threads} torch threads")
    print(f"{'batch':>5} {'pixels':>8} {'px/event':>8} {'wall s/step':>11} {'cpu s/step':>10} "
          f"{'peak MiB':>8}")
    for batch in args.batches:
        done = subprocess.run([sys.executable, __file__, "--one", str(batch), "--steps",
                               str(args.steps), "--threads", str(args.threads)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(f"batch {batch} failed: {done.stderr.strip().splitlines()[-1:]}")
            return 1
        row = json.loads(done.stdout)
        print(f"{batch:>5} {row['pixels']:>8} {row['pixels'] / batch:>8.0f} "
              f"{row['wall_s']:>11.1f} {row['cpu_s']:>10.1f} {row['peak_mib']:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
