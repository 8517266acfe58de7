"""The batch script a site's provider would submit for one block, shown, never submitted.

The header is Parsl's own template for the provider filled in as its submit() fills it; the
body Parsl writes at launch (the worker-pool command wrapped by the launcher) is summarised by
the launcher line that starts the pools.
"""

from __future__ import annotations

from string import Template
from typing import Any

from parsl.providers.pbspro.template import template_string as pbs_template
from parsl.providers.slurm.template import template_string as slurm_template
from parsl.utils import wtime_to_minutes

from hpsearch.sites.parsl_config import build_provider
from hpsearch.sites.site import Site

_JOB = "parsl.trials.block"  # Parsl adds a timestamp to the job name at submit
_LAUNCH_WORDS = ("mpiexec", "srun", "aprun")
_BODY = "__BODY__"


def launcher_line(site: Site) -> str:
    """The line of Parsl's launcher script that starts the worker pools on the nodes."""
    provider: Any = build_provider(site)  # every provider built here has a launcher
    script = provider.launcher("<worker pool command>", 1, provider.nodes_per_block)
    for line in script.splitlines():
        if line.strip().split(" ", 1)[0] in _LAUNCH_WORDS:
            return line.strip()
    return f"{type(provider.launcher).__name__}: one worker pool on the block's first node"


def submit_command(site: Site) -> str:
    sched = site.settings["scheduler"]
    account = sched["account"] or "<account>"
    if sched["provider"] == "pbspro":
        queue = f"-q {sched['queue']} " if sched["queue"] else ""
        return f"qsub {queue}-A {account} <script>"
    if sched["provider"] == "slurm":
        return "sbatch <script>"
    return "(local processes: nothing is submitted)"


def batch_header(site: Site) -> str:
    sched = site.settings["scheduler"]
    provider: Any = build_provider(site)
    if sched["provider"] == "local":
        lines = ["# local provider: no batch script; the worker pool starts as a local process"]
        if sched["worker_init"]:
            lines += ["", sched["worker_init"]]
        return "\n".join(lines) + "\n"
    paths = {"job_stdout_path": f"<run_dir>/submit_scripts/{_JOB}.stdout",
             "job_stderr_path": f"<run_dir>/submit_scripts/{_JOB}.stderr"}
    if sched["provider"] == "pbspro":
        select = provider.select_options
        config = {
            "nodes_per_block": provider.nodes_per_block, "ncpus": provider.cpus_per_node,
            "walltime": provider.walltime, "scheduler_options": provider.scheduler_options,
            "select_options": (":" + select) if select and not select.startswith(":")
            else select,
            "worker_init": provider.worker_init, "user_script": _BODY, **paths,
        }
        template = pbs_template
    else:
        config = {
            "nodes": provider.nodes_per_block, "tasks_per_node": 1,
            "walltime": wtime_to_minutes(provider.walltime),
            "scheduler_options": provider.scheduler_options,
            "worker_init": provider.worker_init, "user_script": _BODY, **paths,
        }
        template = slurm_template
    script = Template(template).substitute(jobname=_JOB, **config)
    header = script.split(_BODY, 1)[0].rstrip()
    header = "\n".join(line for i, line in enumerate(header.splitlines())
                       if line.strip() or i == 0)
    return (f"{header}\n\n# worker pools (one per node), started by:\n"
            f"{launcher_line(site)}\n# submitted with: {submit_command(site)}\n")
