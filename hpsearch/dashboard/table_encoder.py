"""The trial table as JSON, re-encoding only the rows that can still change.

A running campaign changes the snapshot every few seconds, but a finished trial's row never
changes: keeping its encoded text makes /api/trials cost the unfinished rows, not 10,000.
"""

from __future__ import annotations

import json
import threading

from hpsearch.dashboard.campaign_reader import Snapshot
from hpsearch.dashboard.views import TABLE_COLUMNS, table_names, trial_row


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


class TableEncoder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[int, tuple[object, str]] = {}  # trial_id -> (what it depends on, text)

    def encode(self, snap: Snapshot) -> bytes:
        param_names, metric_names = table_names(snap)
        columns = (tuple(param_names), tuple(metric_names))
        parts = []
        with self._lock:
            for t in snap.trials:
                finished = t.state.is_finished()
                if finished:
                    hit = self._rows.get(t._trial_id)
                    if hit is not None and hit[0] == columns:
                        parts.append(hit[1])
                        continue
                text = _dumps(trial_row(t, param_names, metric_names, snap.taken_at))
                if finished:
                    self._rows[t._trial_id] = (columns, text)
                parts.append(text)
        head = _dumps({"version": snap.version, "direction": snap.direction,
                       "columns": TABLE_COLUMNS, "params": param_names,
                       "metrics": metric_names})
        return (head[:-1] + ',"rows":[' + ",".join(parts) + "]}").encode("utf-8")
