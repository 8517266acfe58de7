"""Wall-clock durations as batch schedulers write them: "HH:MM:SS", or "MM:SS".

Campaign budgets, site walltimes and drain margins, and the dashboard's reading of a stored
budget all go through here. Sites hand Parsl the "HH:MM:SS" form (`format_wall_time`), the
only one its providers read.
"""

from __future__ import annotations

import re
from typing import Any

_FORM = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})$")
EXPECTED = '"HH:MM:SS"'


def parse_wall_time(value: Any) -> int:
    """Seconds in "HH:MM:SS" or "MM:SS" (minutes and seconds below 60 after an hour field);
    ValueError otherwise."""
    match = _FORM.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"must be {EXPECTED}, got {value!r}")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    if seconds >= 60 or (match.group(1) is not None and minutes >= 60):
        raise ValueError(f"must be {EXPECTED} with minutes and seconds below 60, got {value!r}")
    return hours * 3600 + minutes * 60 + seconds


def format_wall_time(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
