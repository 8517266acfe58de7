"""Training throughput of a fixed model under given execution knobs: the objective of a
throughput-tuning campaign (maximize images/s).

The searched parameters are execution knobs, not hyperparameters of the network:

    intra_op_threads   torch intra-op pool = OpenMP threads of each training process
    inter_op_threads   torch inter-op pool
    batch_size         events per training step
    workers_per_node   training processes running side by side (trials in flight per node)

The knobs become the HPSEARCH_* thread variables and are applied before torch starts its
pools (`threads.apply()`), which is why every measurement runs in a process of its own that
has not yet imported torch. With workers_per_node > 1, that many processes train at once, each
pinned to its share of this trial's CPUs, and their throughputs add up: what a node delivers
when the site runs that many trials per node.

Two ways in:
    entrypoint = "workflows.throughput:measure"      (campaign objective; returns metrics)
    python -m workflows.throughput --params P --out R [--progress F] [--stop-file S]
        [--model resnet2d] [--size 64] [--steps 3] [--warmup 1] [--seed 0]
The second writes a full result with `images_per_s` and `threads` (what was in effect).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from workflows import threads
from workflows.trial_io import (
    STATUS_FAILED,
    STATUS_OK,
    TrialIO,
    add_protocol_arguments,
    load_params,
)

KNOBS = ("intra_op_threads", "inter_op_threads", "batch_size", "workers_per_node")
DEFAULTS = {"intra_op_threads": 1, "inter_op_threads": 1, "batch_size": 8,
            "workers_per_node": 1}
# The fixed workload: small enough for a laptop, the same for every trial of a campaign.
WORKLOAD = {"model": "resnet2d", "size": 48, "steps": 2, "warmup": 1, "seed": 0}
FIXED_ARCHITECTURE = {"depth": 3, "filters": 8}
METRIC = "images_per_s"


def knobs_of(params: Mapping[str, Any]) -> dict[str, int]:
    """The knob values of a trial; anything else in params is a mistake (ValueError)."""
    unknown = sorted(set(params) - set(KNOBS))
    if unknown:
        raise ValueError(f"unknown throughput knob(s) {', '.join(unknown)}; "
                         f"the knobs are {', '.join(KNOBS)}")
    knobs = dict(DEFAULTS)
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value \
                or value < 1:
            raise ValueError(f"knob {name} must be a positive integer, got {value!r}")
        knobs[name] = int(value)
    return knobs


def _cpu_shares(count: int) -> list[str | None]:
    """This process's CPUs split into `count` disjoint lists (None: too few CPUs to split)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < count:
        return [None] * count
    size = len(cpus) // count
    return [",".join(map(str, cpus[i * size:(i + 1) * size])) for i in range(count)]


def train_steps(knobs: Mapping[str, int], workload: Mapping[str, Any]) -> dict[str, Any]:
    """Apply the thread knobs, then time `steps` training steps (after `warmup`) in this
    process. Must run before anything here has imported torch."""
    os.environ[threads.INTRA_OP] = str(knobs["intra_op_threads"])
    os.environ[threads.INTER_OP] = str(knobs["inter_op_threads"])
    threads.apply()
    import numpy as np
    import torch
    import torch.nn.functional as F

    from models import MODEL_TASKS, build_model
    from models.data import generate_events
    from models.data.loader import collate

    name = workload["model"]
    shape = MODEL_TASKS[name]
    size = int(workload["size"])
    torch.manual_seed(int(workload["seed"]))
    events = generate_events(shape["kind"], np.random.default_rng(int(workload["seed"])),
                             knobs["batch_size"], size=size, task=shape["task"])
    batch = collate(events, range(len(events)), shape["kind"], (size,) * shape["dim"])
    tensor = batch.tensor
    tensor = tensor.replace(torch.log1p(tensor.feats.clamp(min=0.0)))
    labels = batch.semantic if shape["task"] == "segmentation" else batch.particle
    model = build_model(name, FIXED_ARCHITECTURE)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    model.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(tensor), labels)
        loss.backward()
        optimizer.step()

    for _ in range(int(workload["warmup"])):
        step()
    started = time.perf_counter()
    for _ in range(int(workload["steps"])):
        step()
    elapsed = time.perf_counter() - started
    steps = int(workload["steps"])
    return {
        "images_per_s": steps * tensor.batch_size / elapsed,
        "events_per_s": steps * batch.num_events / elapsed,
        "step_time_s": elapsed / steps,
        "threads": threads.in_effect(),
    }


def _replicas(knobs: Mapping[str, int], workload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`workers_per_node` measuring processes at once, each on its own CPUs."""
    count = knobs["workers_per_node"]
    spec = json.dumps({"knobs": dict(knobs), "workload": dict(workload)})
    processes = []
    for share in _cpu_shares(count):
        env = dict(os.environ)
        env.pop(threads.CPU_LIST, None)
        if share is not None:
            env[threads.CPU_LIST] = share
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "workflows.throughput", "--replica", spec],
            env=env, stdout=subprocess.PIPE, text=True))
    results = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"a measuring process exited with code {process.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def run(params: Mapping[str, Any], workload: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Measure; the result holds the node's images/s and what each process ran with."""
    knobs = knobs_of(params)
    workload = {**WORKLOAD, **(workload or {})}
    if knobs["workers_per_node"] == 1 and "torch" not in sys.modules:
        parts = [train_steps(knobs, workload)]
    else:
        parts = _replicas(knobs, workload)
    return {
        "images_per_s": sum(p["images_per_s"] for p in parts),
        "events_per_s": sum(p["events_per_s"] for p in parts),
        "step_time_s": max(p["step_time_s"] for p in parts),
        "knobs": knobs,
        "workload": workload,
        "threads": parts[0]["threads"],
        "replicas": [p["threads"] for p in parts],
    }


def measure(params: Mapping[str, Any],
            report: Callable[[int, Any], bool] | None = None) -> dict[str, float]:
    """Campaign entrypoint: numeric metrics, `images_per_s` first (maximize it)."""
    result = run(params)
    in_effect = result["threads"]
    metrics = {
        "images_per_s": result["images_per_s"],
        "events_per_s": result["events_per_s"],
        "step_time_s": result["step_time_s"],
        "intra_op_threads_in_effect": float(in_effect["torch_intra_op_threads"]),
        "inter_op_threads_in_effect": float(in_effect["torch_inter_op_threads"]),
        "cpus_per_worker": float(len(in_effect["cpu_affinity"] or [])),
    }
    if report is not None:
        report(0, metrics)
    return metrics


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workflows.throughput",
                                     description=__doc__.split("\n")[0])
    add_protocol_arguments(parser)
    parser.add_argument("--model", default=WORKLOAD["model"],
                        help="the fixed model (default: %(default)s)")
    parser.add_argument("--size", type=int, default=WORKLOAD["size"],
                        help="image size in voxels (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=WORKLOAD["steps"],
                        help="timed training steps (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=WORKLOAD["warmup"],
                        help="untimed steps first (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=WORKLOAD["seed"])
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--replica"]:  # one measuring process of a multi-worker trial
        spec = json.loads(argv[1])
        print(json.dumps(train_steps(spec["knobs"], spec["workload"])))
        return 0
    args = build_parser().parse_args(argv)
    io = TrialIO.from_args(args)
    workload = {"model": args.model, "size": args.size, "steps": args.steps,
                "warmup": args.warmup, "seed": args.seed}
    try:
        params = load_params(args.params)
        knobs_of(params)
        from models import MODEL_TASKS

        if args.model not in MODEL_TASKS:
            raise ValueError(f"unknown model {args.model!r}; choose one of "
                             f"{', '.join(MODEL_TASKS)}")
        if min(args.size, args.steps) < 1 or args.warmup < 0:
            raise ValueError("--size and --steps must be positive, --warmup >= 0")
    except ValueError as err:
        print(f"throughput: {err}", file=sys.stderr)
        return 2
    try:
        result = run(params, workload)
    except Exception as err:  # the measurement's own failure: recorded, not hidden
        io.finish(STATUS_FAILED, reason=f"{type(err).__name__}: {err}")
        print(f"throughput: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    metrics = {k: result[k] for k in ("images_per_s", "events_per_s", "step_time_s")}
    io.report(0, metrics)
    io.finish(STATUS_OK, objective=result["images_per_s"], metrics=metrics,
              images_per_s=result["images_per_s"], threads=result["threads"],
              knobs=result["knobs"], workload=result["workload"],
              replicas=result["replicas"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
