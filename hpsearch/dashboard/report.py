"""One self-contained HTML file with every dashboard view, for an e-mail or a logbook."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from hpsearch.dashboard import page, views
from hpsearch.dashboard.campaign_reader import CampaignReader, Snapshot
from hpsearch.errors import UserError

# Trial pages in the report: the best ones first, then failures; a 10,000-trial campaign
# would otherwise carry every log tail.
MAX_DETAILS = 500


def report_data(snap: Snapshot, max_details: int = MAX_DETAILS) -> dict[str, Any]:
    """The responses the live app would give, keyed like its endpoints."""
    table = views.trial_table(snap)
    data: dict[str, Any] = {
        "summary": views.overview(snap),
        "trials": table,
        "importance": views.importance(snap),
        "timeline": views.timeline(snap),
        "failures": views.failures(snap),
    }
    sign = 1.0 if snap.direction == "minimize" else -1.0
    complete = sorted((t for t in snap.trials if views.objective(t) is not None),
                      key=lambda t: sign * (views.objective(t) or 0.0))
    failed = [t for t in snap.trials if t.state.name == "FAIL"]
    others = [t for t in snap.trials if t.state.name not in ("COMPLETE", "FAIL")]
    chosen: dict[int, None] = {}
    for t in complete[: max_details // 2] + failed + others + complete[max_details // 2:]:
        if len(chosen) >= max_details:
            break
        chosen[t.number] = None
    for number in chosen:
        data[f"trial/{number}"] = views.trial_detail(snap, number)
    return data


def write_report(reader: CampaignReader, out: Path, max_details: int = MAX_DETAILS) -> Path:
    """Write the report atomically (a reader never sees half a file), private like the study."""
    out = out.expanduser()
    if not out.parent.is_dir():
        raise UserError(f"cannot write {out}: its folder {out.parent} does not exist")
    snap = reader.snapshot()
    note = f"report of {snap.taken_at:%Y-%m-%d %H:%M} ({len(snap.trials)} trials)"
    html = page.render_report(views.campaign_name(snap), report_data(snap, max_details), note)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
