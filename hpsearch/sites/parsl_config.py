"""A resolved site as a Parsl Config: the one place where site tables map onto Parsl.

    [scheduler] -> provider (LocalProvider | PBSProProvider | SlurmProvider)
    [launcher]  -> launcher that starts one worker pool per node
    [workers], [node], [executor] -> HighThroughputExecutor "trials"
    [mpi] (multi-rank trials) -> MPIExecutor "mpi_trials" (SimpleLauncher; ranks started by
                                 the MPI launcher through $PARSL_MPI_PREFIX)
    [retry]     -> Config.retries + retry_handler, executor block_error_handler
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from parsl.addresses import address_by_interface
from parsl.config import Config
from parsl.executors import HighThroughputExecutor, MPIExecutor
from parsl.launchers import (
    AprunLauncher,
    MpiExecLauncher,
    SimpleLauncher,
    SingleNodeLauncher,
    SrunLauncher,
)
from parsl.launchers.base import Launcher
from parsl.providers import LocalProvider, PBSProProvider, SlurmProvider
from parsl.providers.base import ExecutionProvider

from hpsearch.errors import UserError
from hpsearch.infra_retries import recording
from hpsearch.sites.parsl_logging import BoundedFileLogging
from hpsearch.sites.retry import RetryPolicy, block_error_handler
from hpsearch.sites.schema import walltime_seconds
from hpsearch.sites.site import Site


def build_launcher(site: Site) -> Launcher:
    if site.mpi:
        return SimpleLauncher()  # MPIExecutor: one pool on the first node; ranks via MPI
    spec = site.settings["launcher"]
    kind = spec["kind"]
    if kind == "single_node":
        return SingleNodeLauncher()
    if kind == "simple":
        return SimpleLauncher()
    if kind == "mpiexec":
        return MpiExecLauncher(bind_cmd=spec["bind_cmd"], overrides=spec["overrides"])
    if kind == "srun":
        return SrunLauncher(overrides=spec["overrides"])
    return AprunLauncher(overrides=spec["overrides"])


def local_worker_init(site: Site, run_dir: Path) -> str:
    """A local MPI block needs a node list like a batch job's; one is made unless the driver
    already runs inside a batch job (or a test) that provides one."""
    nodes = site.settings["scheduler"]["nodes_per_block"]
    nodefile = shlex.quote(str(run_dir / "local_nodefile"))
    return (f'if [ -z "${{PBS_NODEFILE:-}}" ] && [ -z "${{SLURM_NODELIST:-}}" ]; then '
            f"export PBS_NODEFILE={nodefile}; "
            f"for i in $(seq {nodes}); do echo localhost; done > \"$PBS_NODEFILE\"; fi")


def polled_every(period: float, provider: ExecutionProvider) -> ExecutionProvider:
    """Parsl asks a batch scheduler about its blocks every 60 s, so a block that ended is
    replaced up to a minute late; the site's `[scheduler].poll_period` sets the interval."""
    if period == provider.status_polling_interval:
        return provider
    cls = type(provider)
    provider.__class__ = type(cls.__name__, (cls,), {
        "__module__": cls.__module__, "status_polling_interval": property(lambda _: period)})
    return provider


ENV_PLACEHOLDER = "{hpsearch_env}"  # in worker_init: the environment hpsearch runs from


def build_provider(site: Site, run_dir: Path | None = None) -> ExecutionProvider:
    sched = site.settings["scheduler"]
    launcher = build_launcher(site)
    # The workers need the Python environment that holds hpsearch and Parsl: the one the
    # driver runs in, on a file system the compute nodes share.
    worker_init = sched["worker_init"].replace(ENV_PLACEHOLDER, shlex.quote(sys.prefix))
    common: dict[str, Any] = {
        "nodes_per_block": sched["nodes_per_block"],
        "init_blocks": sched["init_blocks"],
        "min_blocks": sched["min_blocks"],
        "max_blocks": sched["max_blocks"],
        "launcher": launcher,
    }
    if sched["provider"] == "local":
        if site.mpi and run_dir is not None:
            worker_init = "\n".join(filter(None, [local_worker_init(site, run_dir), worker_init]))
        return LocalProvider(worker_init=worker_init, **common)
    if sched["provider"] == "pbspro":
        node = site.settings["node"]
        return polled_every(sched["poll_period"], PBSProProvider(
            account=sched["account"] or None,
            queue=sched["queue"] or None,
            scheduler_options=sched["scheduler_options"],
            select_options=sched["select_options"],
            worker_init=worker_init,
            cpus_per_node=node["cores"] * node["hardware_threads"],
            walltime=sched["walltime"],
            **common,
        ))
    return polled_every(sched["poll_period"], SlurmProvider(
        partition=sched["queue"] or None,
        account=sched["account"] or None,
        qos=sched["qos"] or None,
        constraint=sched["constraint"] or None,
        walltime=sched["walltime"],
        scheduler_options=sched["scheduler_options"],
        worker_init=worker_init,
        exclusive=sched["exclusive"],
        **common,
    ))


def drain_period(site: Site) -> int | None:
    """Seconds after a block starts when its workers stop taking trials (None: never)."""
    sched = site.settings["scheduler"]
    if sched["provider"] == "local":
        return None
    margin = walltime_seconds(site.settings["executor"]["drain_margin"])
    return walltime_seconds(sched["walltime"]) - margin


def cpu_affinity(site: Site) -> str:
    workers = site.settings["workers"]
    if workers["cpu_affinity"] == "list":
        return "list:" + ":".join(workers["cpu_lists"])
    return workers["cpu_affinity"]


def executor_address(site: Site, look_up: bool = True) -> str | None:
    """The address workers connect to; None lets Parsl try every address of this host."""
    ex = site.settings["executor"]
    if ex["address"]:
        return ex["address"]
    if not ex["interface"] or not look_up:
        return None
    try:
        return address_by_interface(ex["interface"])
    except OSError as err:
        raise UserError(
            f"site {site.name}: [executor].interface {ex['interface']!r} is not a network "
            f"interface of this machine ({err.strerror}); launch from the machine's login "
            "node or set [executor].address") from err


def check_launchable(site: Site) -> None:
    """Refuse, before anything is created, what the scheduler or the network would."""
    sched = site.settings["scheduler"]
    if sched["provider"] != "local" and sched["account_required"] and not sched["account"]:
        raise UserError(
            f"site {site.name}: [scheduler].account is empty; set account = \"<project>\" in "
            "the campaign's [site] table or in your own site file")
    executor_address(site)  # the login node's interface must exist here


def retry_policy(site: Site) -> RetryPolicy:
    """Lost workers and nodes cost 1 retry, a block's walltime nothing (up to
    [retry].walltime_reruns), trial errors are final."""
    return RetryPolicy(drain_period(site), site.settings["retry"]["walltime_reruns"])


def build_executor(site: Site, run_dir: Path | None = None,
                   look_up: bool = True) -> HighThroughputExecutor:
    ex = site.settings["executor"]
    common: dict[str, Any] = {
        "provider": build_provider(site, run_dir),
        "address": executor_address(site, look_up),
        "heartbeat_period": ex["heartbeat_period"],
        "heartbeat_threshold": ex["heartbeat_threshold"],
        "drain_period": drain_period(site),
        "block_error_handler": block_error_handler(site.settings["retry"]["block_error_window"]),
        "encrypted": ex["encrypted"],
        "prefetch_capacity": 0,  # trials are long: never queue one behind a busy worker
    }
    if site.mpi:
        return MPIExecutor(label=site.executor_label,
                           max_workers_per_block=site.trials_per_block,
                           mpi_launcher=site.settings["mpi"]["launcher"], **common)
    node = site.settings["node"]
    logical = node["cores"] * node["hardware_threads"]
    return HighThroughputExecutor(
        label=site.executor_label,
        max_workers_per_node=site.workers_per_node,
        # The pool also divides the node's CPUs by this; the site's count must win.
        cores_per_worker=float(logical // site.workers_per_node),
        cpu_affinity=cpu_affinity(site),
        available_accelerators=list(node["accelerators"]),
        **common,
    )


def build_config(site: Site, run_dir: Path, for_display: bool = False) -> Config:
    """The Config the driver loads; `for_display` skips the checks that only matter at
    launch (account set, network interface present) so any site can be shown anywhere."""
    if not for_display:
        check_launchable(site)
    ex = site.settings["executor"]
    return Config(
        executors=[build_executor(site, run_dir, look_up=not for_display)],
        run_dir=str(run_dir),
        retries=site.settings["retry"]["infrastructure_retries"],
        retry_handler=recording(retry_policy(site)),
        strategy="simple",
        strategy_period=ex["strategy_period"],
        max_idletime=ex["max_idletime"],
        initialize_logging=BoundedFileLogging(),
    )
