"""A whole campaign on the simulated cluster: created as `launch` creates one, driven by the
real `Driver` (sampler, SQLite storage, progress files, pruner), resumable as `resume` does.

The scale benchmark and the driver's tests run it; the trials' objective is a Python function
of their parameters, evaluated by the simulator instead of a trial process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpsearch.campaign import Campaign, parse_campaign
from hpsearch.driver import Driver, make_pruner
from hpsearch.launch import create_campaign
from hpsearch.progress_line import ProgressLine
from hpsearch.samplers import make_sampler
from hpsearch.simulated_cluster import SimulatedCluster
from hpsearch.sites import load_site
from hpsearch.storage import open_campaign
from hpsearch.study_view import StudyView

METRIC = "loss"


@dataclass
class SimulatedRun:
    exit_code: int
    cluster: SimulatedCluster
    driver: Driver

    def cpu_split(self) -> dict[str, float]:
        """The driver's CPU seconds: sampler, storage, dispatch, bookkeeping (the rest)."""
        parts = {"sampler": self.driver.view.cpu["sampler"],
                 "storage": self.driver.view.cpu["storage"],
                 "dispatch": self.driver.cpu["dispatch"]}
        parts["bookkeeping"] = max(0.0, self.cluster.stats.driver_cpu_s - sum(parts.values()))
        return parts


def simulated_campaign(space: Mapping[str, Any], trials: int, *, sampler: str = "tpe",
                       n_init: int | None = None, seed: int = 0, pruner: str = "none",
                       wall_time: str | None = None) -> Campaign:
    budget: dict[str, Any] = {"trials": trials}
    if wall_time is not None:
        budget["wall_time"] = wall_time
    table: dict[str, Any] = {
        "name": "simulated", "seed": seed, "sampler": sampler, "pruner": pruner,
        # Never run: the simulator evaluates the objective itself.
        "objective": {"entrypoint": "simulated:objective", "metric": METRIC,
                      "direction": "minimize"},
        "search_space": dict(space), "budget": budget,
    }
    if n_init is not None:
        table["n_init"] = n_init
    return parse_campaign(table, default_name="simulated", source_dir=Path.cwd())


def new_cluster(workers: int, objective: Callable[[dict[str, Any]], float],
                **options: Any) -> SimulatedCluster:
    return SimulatedCluster(workers, objective, metric=METRIC, **options)


def drive_simulated(directory: Path, cluster: SimulatedCluster,
                    campaign: Campaign | None = None) -> SimulatedRun:
    """Launch `campaign` in the new `directory`, or resume the one there (campaign None),
    and drive it on `cluster` with as many trials in flight as it has workers."""
    from hpsearch import leftovers
    from hpsearch.resume import prepare_resume

    site = load_site("local")
    if campaign is not None:
        storage = create_campaign(campaign, site, directory, "# simulated\n")
    else:
        study, directory = open_campaign(str(directory))
        campaign = Campaign.from_dict(study.user_attrs["campaign"])
        leftovers.claim(directory)
        prepare_resume(study, campaign, directory)
        storage = study._storage
    leftovers.claim(directory)
    try:
        view = StudyView(storage, campaign.name,
                         make_sampler(campaign.sampler, campaign.seed, campaign.n_init),
                         make_pruner(campaign.pruner), budget_trials=campaign.budget.trials)
        with open(os.devnull, "w") as quiet:
            driver = Driver(campaign, site, directory, view, cluster.workers,
                            ProgressLine(quiet, live=False), backend=cluster)
            code = driver.run()
    finally:
        leftovers.release(directory)
    return SimulatedRun(code, cluster, driver)
