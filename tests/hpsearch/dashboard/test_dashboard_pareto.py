"""With several objectives the overview draws the Pareto front (views and a real browser)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from conftest import serve

from hpsearch.dashboard import views
from hpsearch.dashboard.campaign_reader import CampaignReader
from hpsearch.dashboard.chromium import Chromium
from hpsearch.locate import DB_FILENAME, locate_campaign, sqlite_url
from hpsearch.storage import create_sqlite_file

# (accuracy error, step time): 0, 1 and 3 are the front; 2 is beaten by 1; 4 by 3.
VALUES = [(0.10, 9.0), (0.20, 4.0), (0.30, 5.0), (0.50, 1.0), (0.60, 2.0)]


def _campaign(directory: Path) -> Path:
    directory.mkdir()
    create_sqlite_file(directory / DB_FILENAME)
    study = optuna.create_study(study_name="two", storage=sqlite_url(directory / DB_FILENAME),
                                directions=["minimize", "minimize"])
    study.set_user_attr("campaign", {"name": "two", "budget": {"trials": 5},
                                     "objective": {"metric": ["error", "step_time_s"],
                                                   "direction": ["minimize", "minimize"]}})
    for i, values in enumerate(VALUES):
        study.add_trial(optuna.trial.create_trial(
            params={"x": float(i)}, values=list(values),
            distributions={"x": optuna.distributions.FloatDistribution(0, 10)}))
    return directory


def test_overview_holds_the_front(tmp_path: Path) -> None:
    snap = CampaignReader(locate_campaign(str(_campaign(tmp_path / "c")))).snapshot()
    pareto = views.overview(snap)["pareto"]
    assert pareto["metrics"] == ["error", "step_time_s"]
    assert pareto["front"]["number"] == [0, 1, 3]
    assert pareto["points"]["number"] == [0, 1, 2, 3, 4]


@pytest.fixture(scope="module")
def two_objective_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    directory = _campaign(tmp_path_factory.mktemp("pareto") / "c")
    yield from serve(CampaignReader(locate_campaign(str(directory))))


@pytest.mark.browser
def test_the_browser_draws_the_front(browser: Chromium, two_objective_dashboard) -> None:
    browser.navigate(two_objective_dashboard.url)
    browser.wait_for("document.getElementById('view').dataset.ready === '1'")
    browser.wait_for("!!document.querySelector('#plot-pareto .plot-container svg.main-svg')")
    title = browser.evaluate("document.querySelector('#pareto-slot h2').textContent")
    assert title == "Pareto front (3 trials)"
    drawn = browser.evaluate("document.getElementById('plot-pareto').data[1].customdata.length")
    assert drawn == 3
