"""Sites: one TOML file per machine, turned into a Parsl Config and a trial environment."""

from __future__ import annotations

from hpsearch.sites.catalog import shipped_names
from hpsearch.sites.site import HTEX_LABEL, MPI_LABEL, Site, load_site

__all__ = ["HTEX_LABEL", "MPI_LABEL", "Site", "load_site", "shipped_names"]
