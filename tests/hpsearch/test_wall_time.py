"""One reading of scheduler durations for campaign budgets, site walltimes and the dashboard."""

from __future__ import annotations

import pytest

from hpsearch.errors import UserError
from hpsearch.sites import load_site
from hpsearch.wall_time import format_wall_time, parse_wall_time


@pytest.mark.parametrize("text, seconds", [
    ("12:00:00", 43200), ("00:10:00", 600), ("100:00:00", 360000), ("30:00", 1800),
    ("90:00", 5400), ("0:05", 5),
])
def test_scheduler_forms(text, seconds):
    assert parse_wall_time(text) == seconds
    assert parse_wall_time(format_wall_time(seconds)) == seconds


@pytest.mark.parametrize("value", ["90m", "1h", "soon", "1:2:3:4", "01:60:00", "00:00:75", 3600,
                                   True, None])
def test_other_forms_are_refused(value):
    with pytest.raises(ValueError, match='"HH:MM:SS"'):
        parse_wall_time(value)


def test_sites_take_what_campaigns_take_and_hand_parsl_hh_mm_ss():
    site = load_site("polaris", overrides={"account": "p", "walltime": "45:00"})
    assert site.settings["scheduler"]["walltime"] == "00:45:00"
    with pytest.raises(UserError, match='walltime must be a duration "HH:MM:SS"'):
        load_site("polaris", overrides={"account": "p", "walltime": "45m"})
