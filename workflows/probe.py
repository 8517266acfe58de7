"""A probe trial: `python -m workflows.probe --out FILE`, what a trial's threads really get.

It starts like a training trial (`threads.apply()` before torch), then starts what a trial
starts: torch's intra-op pool (a parallel op), its inter-op pool (a scripted fork), and a
loader-like thread, and reports the CPU mask of every thread with its role, the pool sizes,
the visible accelerators and the thread variables. Under an MPI launcher every rank reports
and rank 0 writes them all. `hpsearch sites probe` runs one per worker slot through a site's
real executor.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from workflows import threads

ACCELERATOR_VARS = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
                    "ZE_AFFINITY_MASK")


def _tids() -> set[int]:
    return {int(entry.name) for entry in Path("/proc/self/task").iterdir()}


def _start_inter_op_pool(torch: Any) -> None:
    # Only a scripted fork runs on the inter-op pool; an eager torch.jit.fork runs inline.
    def forked(x: torch.Tensor) -> torch.Tensor:
        future = torch.jit.fork(torch.mm, x, x)
        return torch.jit.wait(future)

    torch.jit.script(forked)(torch.ones(64, 64))


def observe() -> dict[str, Any]:
    """Start every kind of thread a trial has and report each one's CPU mask."""
    process_cpus = sorted(os.sched_getaffinity(0))  # as the worker or launcher gave it
    threads.apply()
    import torch

    roles: dict[int, str] = {threading.get_native_id(): "main"}
    before = _tids()
    torch.ones(1 << 22).mul_(2.0).sum()  # large enough for at::parallel_for to use every thread
    torch.mm(torch.ones(256, 256), torch.ones(256, 256))
    intra = _tids() - before
    roles.update({tid: "intra-op" for tid in intra})
    before = _tids()
    _start_inter_op_pool(torch)
    roles.update({tid: "inter-op" for tid in _tids() - before})

    started, release = threading.Event(), threading.Event()
    loader_tid: list[int] = []

    def loader() -> None:
        loader_tid.append(threading.get_native_id())
        started.set()
        release.wait(30)

    thread = threading.Thread(target=loader, name="loader", daemon=True)
    thread.start()
    started.wait(30)
    roles[loader_tid[0]] = "loader"
    masks = threads.thread_masks()
    release.set()
    thread.join()
    for entry in masks:
        entry["role"] = roles.get(int(entry["tid"]), "other")
    local_rank, local_size = threads.local_rank_and_size()
    in_effect = threads.in_effect()
    return {
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "worker": os.environ.get("PARSL_WORKER_RANK"),
        "local_rank": local_rank,
        "local_size": local_size,
        "process_cpus": threads.format_cpu_list(process_cpus),
        "cpus": threads.format_cpu_list(in_effect["cpu_affinity"] or []),
        "bound": in_effect["bound"],
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "threads": masks,
        "accelerators": {name: os.environ[name] for name in ACCELERATOR_VARS
                         if name in os.environ},
        "env": in_effect["env"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workflows.probe",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="where to write the report")
    args = parser.parse_args(argv)
    report = observe()
    reports = [report]
    rank = 0
    if any(name in os.environ for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK",
                                           "PALS_RANKID", "SLURM_PROCID")):
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
        rank = comm.Get_rank()
        report["rank"] = rank
        gathered = comm.gather(report, root=0)
        reports = list(gathered) if gathered is not None else []
    if rank == 0:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(f".{args.out.name}.tmp")
        tmp.write_text(json.dumps({"ranks": reports}, indent=1) + "\n")
        os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
