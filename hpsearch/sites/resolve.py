"""Turn "auto" into numbers and check that the tables of a site file agree with each other.

Rules (the README states them too):
- `[node].cores = "auto"`: the cores this process may run on (its affinity mask).
- `[workers].per_node = "auto"`: cores ÷ `[threads].intra_op`, at most one per accelerator.
- `[threads].intra_op = "auto"`: cores ÷ workers per node (at least 1).
- both "auto": one worker per accelerator, or one per core without accelerators.
- `[mpi].ranks_per_trial = "auto"`: 1 for single-node trials; for multi-node trials one rank
  per accelerator on each node (one per node without accelerators).
"""

from __future__ import annotations

import copy
import os
from typing import Any

from hpsearch.errors import UserError
from hpsearch.sites.queues import check_queue
from hpsearch.sites.schema import walltime_seconds
from workflows.trial_io import INTER_OP_VAR, INTRA_OP_VAR

# The trial's thread count is [threads].intra_op; a second, different value would be ambiguous.
_THREAD_VARS_SET_BY_THREADS_TABLE = ("OMP_NUM_THREADS", INTRA_OP_VAR, INTER_OP_VAR)


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve(settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = copy.deepcopy(settings)
    node, workers, threads = out["node"], out["workers"], out["threads"]
    sched, launcher, mpi = out["scheduler"], out["launcher"], out["mpi"]

    if node["cores"] == "auto":
        node["cores"] = usable_cores()
    cores, n_acc = node["cores"], len(node["accelerators"])
    per_node, intra = workers["per_node"], threads["intra_op"]
    if per_node == "auto" and intra == "auto":
        per_node = n_acc or cores
    if per_node == "auto":
        per_node = max(1, cores // intra)
        if n_acc:
            per_node = min(per_node, n_acc)
    if intra == "auto":
        intra = max(1, cores // per_node)
    workers["per_node"], threads["intra_op"] = per_node, intra

    if n_acc and per_node > n_acc:
        raise UserError(
            f"[workers].per_node ({per_node}) exceeds the {n_acc} entries of [node].accelerators;"
            " each worker gets one accelerator")
    hw = cores * node["hardware_threads"]
    if per_node * intra > hw:
        raise UserError(
            f"[threads].intra_op ({intra}) x [workers].per_node ({per_node}) exceeds the node's "
            f"{cores} cores x {node['hardware_threads']} hardware threads; lower one of them")
    if workers["cpu_affinity"] == "list":
        if len(workers["cpu_lists"]) != per_node:
            raise UserError(
                f"[workers].cpu_lists has {len(workers['cpu_lists'])} entries but "
                f"[workers].per_node is {per_node}; give one CPU list per worker (or set "
                '[workers].cpu_affinity = "block")')
    elif workers["cpu_lists"]:
        raise UserError('[workers].cpu_lists is only used with [workers].cpu_affinity = "list"')
    for name in _THREAD_VARS_SET_BY_THREADS_TABLE:
        if name in out["environment"]:
            raise UserError(f"[environment].{name} is set from [threads]; remove it there and "
                            "set [threads].intra_op / inter_op instead")

    provider = sched["provider"]
    if sched["min_blocks"] > sched["max_blocks"] or sched["init_blocks"] > sched["max_blocks"]:
        raise UserError("[scheduler].init_blocks and min_blocks must not exceed max_blocks "
                        f"({sched['max_blocks']})")
    if provider != "pbspro" and sched["select_options"]:
        raise UserError('[scheduler].select_options applies to provider = "pbspro" only')
    for key in ("qos", "constraint"):
        if provider != "slurm" and sched[key]:
            raise UserError(f'[scheduler].{key} applies to provider = "slurm" only')
    if provider == "local" and launcher["kind"] not in ("single_node", "simple"):
        raise UserError('[launcher].kind must be "single_node" or "simple" with provider = '
                        f'"local", got "{launcher["kind"]}"')

    if mpi["ranks_per_trial"] == "auto":
        nodes = mpi["nodes_per_trial"]
        mpi["ranks_per_trial"] = 1 if nodes == 1 else nodes * max(1, n_acc)
    if mpi["ranks_per_trial"] % mpi["nodes_per_trial"]:
        raise UserError(f"[mpi].ranks_per_trial ({mpi['ranks_per_trial']}) must be a multiple "
                        f"of [mpi].nodes_per_trial ({mpi['nodes_per_trial']})")
    multi_rank = mpi["nodes_per_trial"] > 1 or mpi["ranks_per_trial"] > 1
    if mpi["nodes_per_trial"] > sched["nodes_per_block"]:
        raise UserError(
            f"[mpi].nodes_per_trial ({mpi['nodes_per_trial']}) exceeds [scheduler]."
            f"nodes_per_block ({sched['nodes_per_block']}): a trial must fit in one block; "
            "raise nodes_per_block or lower nodes_per_trial")
    if not multi_rank and sched["nodes_per_block"] > 1 and launcher["kind"] in (
            "single_node", "simple"):
        raise UserError(
            f'[launcher].kind = "{launcher["kind"]}" starts workers on one node only; use '
            '"mpiexec", "srun" or "aprun" when [scheduler].nodes_per_block > 1')

    if out["executor"]["address"] and out["executor"]["interface"]:
        raise UserError("[executor].address and [executor].interface are alternatives; "
                        "set one of them")
    if provider != "local":
        margin = walltime_seconds(out["executor"]["drain_margin"])
        if walltime_seconds(sched["walltime"]) <= margin:
            raise UserError(
                f"[executor].drain_margin ({out['executor']['drain_margin']}) must be shorter "
                f"than [scheduler].walltime ({sched['walltime']}); workers stop taking trials "
                "that long before the walltime")
        if out["executor"]["no_worker_timeout"] <= sched["poll_period"]:
            # A block that left the queue shows as queued until Parsl next asks: a shorter
            # limit would end a campaign whose workers are only starting.
            raise UserError(
                f"[executor].no_worker_timeout ({out['executor']['no_worker_timeout']:g} s) "
                f"must be longer than [scheduler].poll_period ({sched['poll_period']:g} s); "
                "raise it (default 600)")
    check_queue(out)
    return out
