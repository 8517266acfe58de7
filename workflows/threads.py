"""Thread and affinity settings of a trial process, applied before torch starts its pools.

The site file decides the values; the Parsl app passes them to the trial as environment
variables. Parsl's own cpu_affinity may overwrite OMP_NUM_THREADS in the worker, so the
trial re-reads the HPSEARCH_* variables, which nothing else touches.
"""

from __future__ import annotations

import os

from workflows.trial_io import CPU_LIST_VAR as CPU_LIST
from workflows.trial_io import INTER_OP_VAR as INTER_OP
from workflows.trial_io import INTRA_OP_VAR as INTRA_OP

_RECORDED_ENV = (
    "OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "KMP_BLOCKTIME", "KMP_AFFINITY",
    "GOMP_CPU_AFFINITY", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
    "ZE_AFFINITY_MASK", "ZE_FLAT_DEVICE_HIERARCHY", "PARSL_WORKER_RANK",
    INTRA_OP, INTER_OP, CPU_LIST,
)


def parse_cpu_list(text: str) -> set[int]:
    cpus: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-", 1)
            cpus.update(range(int(low), int(high) + 1))
        else:
            cpus.add(int(part))
    return cpus


def apply() -> None:
    """Pin the process and size torch's pools. Call before the first torch operation."""
    cpu_list = os.environ.get(CPU_LIST)
    if cpu_list and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, parse_cpu_list(cpu_list))
    intra = os.environ.get(INTRA_OP)
    if intra:
        # The HPSEARCH_* value is the site's: OMP_NUM_THREADS may have been rewritten on the
        # way (Parsl's cpu_affinity does), and OpenMP reads it when torch loads.
        os.environ["OMP_NUM_THREADS"] = intra
        os.environ["MKL_NUM_THREADS"] = intra
    import torch

    if intra:
        torch.set_num_threads(int(intra))
    inter = os.environ.get(INTER_OP)
    if inter:
        try:
            torch.set_num_interop_threads(int(inter))
        except RuntimeError:
            pass  # already started by an earlier parallel call; recorded as in effect below


def in_effect() -> dict:
    """What the trial actually ran with, for its result file."""
    import torch

    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "torch_intra_op_threads": torch.get_num_threads(),
        "torch_inter_op_threads": torch.get_num_interop_threads(),
        "cpu_affinity": affinity,
        "env": {name: os.environ[name] for name in _RECORDED_ENV if name in os.environ},
    }
