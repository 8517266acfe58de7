"""Campaign dashboard: a read-only live web app and a self-contained HTML report."""

from __future__ import annotations

import importlib
from typing import Any

# The CLI imports this package on every command: the web stack loads only when used.
_PUBLIC = {
    "CampaignReader": "hpsearch.dashboard.campaign_reader",
    "Snapshot": "hpsearch.dashboard.campaign_reader",
    "Dashboard": "hpsearch.dashboard.server",
    "start_dashboard": "hpsearch.dashboard.server",
    "write_report": "hpsearch.dashboard.report",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
