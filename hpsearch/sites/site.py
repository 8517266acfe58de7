"""One machine, resolved: what the driver asks of a site.

`load_site()` reads a site file (shipped or the user's), applies a campaign's overrides,
validates and resolves it. The `Site` then answers: how many trials run at once (`slots`),
the environment of each trial process (`trial_env()`), and for multi-rank trials the
resource specification Parsl's MPIExecutor needs. Turning it into a Parsl `Config` is
`parsl_config.build_config(site, run_dir)`: nothing here imports Parsl or torch.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpsearch.errors import UserError
from hpsearch.sites import catalog
from hpsearch.sites.overrides import apply_overrides
from hpsearch.sites.resolve import resolve
from hpsearch.sites.schema import validate
from workflows.trial_io import (
    ACCELERATOR_KIND_VAR,
    ACCELERATORS_VAR,
    INTER_OP_VAR,
    INTRA_OP_VAR,
)
from workflows.trial_io import EXECUTOR_LABEL as HTEX_LABEL
from workflows.trial_io import MPI_EXECUTOR_LABEL as MPI_LABEL


@dataclass(frozen=True)
class Site:
    """A resolved site: every table of the site file, defaults filled in, no "auto" left."""

    name: str
    settings: dict[str, dict[str, Any]]
    source: str = ""  # the file it came from, for messages
    overrides: dict[str, Any] = field(default_factory=dict)

    # ---- what the driver needs -------------------------------------------------------
    @property
    def mpi(self) -> bool:
        """True when trials span several ranks or nodes (Parsl's MPIExecutor runs them)."""
        mpi = self.settings["mpi"]
        return mpi["nodes_per_trial"] > 1 or mpi["ranks_per_trial"] > 1

    @property
    def executor_label(self) -> str:
        return MPI_LABEL if self.mpi else HTEX_LABEL

    @property
    def launch_prefix(self) -> str:
        """Put before the trial command (in a shell) so the MPI launcher starts its ranks."""
        return "$PARSL_MPI_PREFIX" if self.mpi else ""

    @property
    def workers_per_node(self) -> int:
        return self.settings["workers"]["per_node"]

    @property
    def trials_per_block(self) -> int:
        sched = self.settings["scheduler"]
        if self.mpi:
            return sched["nodes_per_block"] // self.settings["mpi"]["nodes_per_trial"]
        return self.workers_per_node * sched["nodes_per_block"]

    @property
    def slots(self) -> int:
        """Trials in flight at most, over all blocks."""
        return self.trials_per_block * self.settings["scheduler"]["max_blocks"]

    @property
    def accelerators(self) -> list[str]:
        """The node's devices in the order of its cores: entry i is the one nearest worker
        i's CPU list (Polaris: ["3", "2", "1", "0"], i.e. gpu = 3 - local rank); a trial or
        rank keeps the one nearest its own cores (workflows.threads)."""
        return list(self.settings["node"]["accelerators"])

    @property
    def intra_op_threads(self) -> int:
        return self.settings["threads"]["intra_op"]

    @property
    def inter_op_threads(self) -> int:
        return self.settings["threads"]["inter_op"]

    def trial_env(self) -> dict[str, str]:
        """Environment of every trial process, laid over the worker's own.

        Parsl's cpu_affinity rewrites OMP_NUM_THREADS and KMP_AFFINITY in the worker; these
        values are set again here so the trial runs with what the site file says, and the
        HPSEARCH_* ones (which nothing else touches) let the trial apply them itself.
        """
        intra = str(self.intra_op_threads)
        env = {
            "OMP_NUM_THREADS": intra,
            "MKL_NUM_THREADS": intra,
            INTRA_OP_VAR: intra,
            INTER_OP_VAR: str(self.inter_op_threads),
        }
        node, workers = self.settings["node"], self.settings["workers"]
        if node["accelerators"] and workers["cpu_affinity"] == "list":
            # Worker i's CPUs are the ones nearest accelerator i: each trial (or rank) keeps
            # the accelerator nearest its own cores (workflows.threads).
            env[ACCELERATORS_VAR] = ";".join(
                f"{cpus}={name}" for cpus, name in zip(workers["cpu_lists"],
                                                       node["accelerators"], strict=False))
            env[ACCELERATOR_KIND_VAR] = node["accelerator_kind"]
        env.update(self.settings["environment"])
        return env

    def resource_specification(self, nodes: int | None = None,
                               ranks: int | None = None) -> dict[str, Any]:
        """Parsl's resource specification for one multi-rank trial.

        A trial asking for more nodes than a block holds would wait forever inside Parsl;
        it is refused here, before it is submitted.
        """
        mpi = self.settings["mpi"]
        nodes = mpi["nodes_per_trial"] if nodes is None else nodes
        ranks = mpi["ranks_per_trial"] if ranks is None else ranks
        block = self.settings["scheduler"]["nodes_per_block"]
        if nodes < 1 or ranks < 1 or ranks % nodes:
            raise UserError(f"site {self.name}: a trial needs nodes >= 1 and ranks a multiple "
                            f"of nodes, got nodes={nodes} ranks={ranks}")
        if nodes > block:
            raise UserError(
                f"site {self.name}: a trial asks for {nodes} nodes but a block holds "
                f"{block} ([scheduler].nodes_per_block); raise nodes_per_block (or [site] "
                "nodes) or lower nodes_per_trial")
        spec: dict[str, Any] = {"num_nodes": nodes, "ranks_per_node": ranks // nodes,
                                "num_ranks": ranks}
        if mpi["launcher_options"]:
            spec["launcher_options"] = mpi["launcher_options"]
        return spec

    # ---- storage -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, **copy.deepcopy(self.settings)}

    @classmethod
    def from_dict(cls, table: dict[str, Any]) -> Site:
        table = dict(table)
        name = str(table.pop("name", "site"))
        source = str(table.pop("source", ""))
        return _build(name, table, f"site {name} (stored)", source=source)


def load_site(name: str = "local", path: str | Path | None = None,
              overrides: dict[str, Any] | None = None) -> Site:
    """The site `name` (shipped in site_configs) or the file at `path`, with overrides."""
    if path is not None:
        label, table = catalog.read_path(path)
        name = Path(path).stem if name == "local" and path else name
    else:
        label, table = catalog.read_shipped(name)
    site_name = table.get("site", {}).get("name") if isinstance(table.get("site"), dict) else None
    name = site_name or name
    try:
        table = apply_overrides(table, overrides)
    except UserError as err:
        raise UserError(f"site {name}: {err}") from err
    site = _build(name, table, f"site file {Path(label).name}", source=label)
    return Site(site.name, site.settings, site.source, dict(overrides or {}))


def _build(name: str, table: dict[str, Any], label: str, source: str) -> Site:
    try:
        settings = resolve(validate(table))
    except UserError as err:
        raise UserError(f"{label}: {err}") from err
    settings["site"]["name"] = name
    return Site(name=name, settings=settings, source=source)
