"""hpsearch: hyperparameter search on HPC, from the command line or from Python.

The public surface is what `__all__` names; every other module is internal::

    import hpsearch

    run = hpsearch.Campaign.from_file("campaign.toml").launch()
    run.best(top=5)                      # rows: rank, trial, metric, parameters
    hpsearch.open("campaign-dir").resume(trials=100, wall_time="02:00:00", site="polaris")

Importing the package loads no torch, scipy or Parsl: those come with `launch` and `resume`.
"""

from __future__ import annotations

from hpsearch.api import Campaign, CampaignRun, open
from hpsearch.errors import UserError

__all__ = ["Campaign", "CampaignRun", "UserError", "open"]
