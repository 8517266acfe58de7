"""The pages in a real headless Chromium: they load, plot, sort, refresh live, work offline."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from conftest import serve
from dashboard_campaign import BEST_NUMBER, BEST_VALUE, build_campaign

from hpsearch.dashboard.campaign_reader import CampaignReader
from hpsearch.dashboard.chromium import Chromium
from hpsearch.locate import locate_campaign, sqlite_url

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[3]

READY = "document.getElementById('view').dataset.ready === '1'"
FIRST_ROW = "document.querySelector('#trials-table tbody tr').dataset.number"
# view -> how many plots it draws for the fixture campaign
PAGES = {"overview": 3, "best": 0, f"trial/{BEST_NUMBER}": 1, "trial/19": 1, "trial/2": 1,
         "importance": 6, "timeline": 2, "failures": 0}


def open_view(browser: Chromium, view: str) -> None:
    browser.evaluate(f"if (location.hash !== '#{view}') {{"
                     "delete document.getElementById('view').dataset.ready;"
                     f"location.hash = '#{view}' }}")
    browser.wait_for(READY)


def plots_drawn(browser: Chromium) -> int:
    # A drawn Plotly figure has its .plot-container with an <svg> inside.
    return browser.evaluate("document.querySelectorAll('#view .plot-container svg.main-svg').length"
                            " && document.querySelectorAll('#view .plot-container').length")


@pytest.fixture(scope="module")
def logged_in(browser: Chromium, dashboard) -> Chromium:
    browser.navigate(dashboard.url)
    browser.wait_for(READY)
    # The token went into a cookie and out of the address bar.
    assert "token" not in browser.evaluate("location.href")
    return browser


@pytest.mark.parametrize("view", PAGES)
def test_page_loads_and_plots(logged_in: Chromium, view: str, artifacts) -> None:
    logged_in.console_errors.clear()
    open_view(logged_in, view)
    assert plots_drawn(logged_in) == PAGES[view]
    logged_in.screenshot(artifacts / f"{view.replace('/', '-')}.png")
    assert logged_in.console_errors == []


def test_best_trial_first_then_sort_and_filter(logged_in: Chromium) -> None:
    open_view(logged_in, "best")
    assert logged_in.evaluate(FIRST_ROW) == str(BEST_NUMBER)
    value_cell = "document.querySelector('#trials-table tbody tr td:nth-child(3)').textContent"
    assert float(logged_in.evaluate(value_cell)) == BEST_VALUE
    # click "value": descending, worst complete trial first
    logged_in.evaluate("[...document.querySelectorAll('#trials-table th')]"
                       ".find(th => th.textContent.startsWith('value')).click()")
    assert logged_in.evaluate(FIRST_ROW) == "0"
    logged_in.evaluate("{ const s = document.getElementById('filter-state'); s.value = 'FAIL';"
                       "s.dispatchEvent(new Event('change')) }")
    states = logged_in.evaluate("[...document.querySelectorAll('#trials-table tbody tr "
                                "td:nth-child(2)')].map(td => td.textContent)")
    assert states == ["FAIL"] * 3
    logged_in.evaluate("{ const s = document.getElementById('filter-state'); s.value = 'ALL';"
                       "s.dispatchEvent(new Event('change')) }")


def test_failures_link_to_trials(logged_in: Chromium) -> None:
    open_view(logged_in, "failures")
    links = logged_in.evaluate("[...document.querySelectorAll('#failure-groups a')]"
                               ".map(a => a.getAttribute('href'))")
    assert links == ["#trial/2", "#trial/11", "#trial/6"]
    logged_in.evaluate("document.querySelector('#failure-groups a').click()")
    logged_in.wait_for(READY + " && document.getElementById('fail-reason') !== null")
    reason = logged_in.evaluate("document.getElementById('fail-reason').textContent")
    assert "out of memory" in reason


@pytest.fixture
def live(tmp_path) -> Iterator[tuple]:
    built = build_campaign(tmp_path / "live")
    yield from ((built, d) for d in serve(CampaignReader(locate_campaign(built.directory),
                                                          min_refresh_s=0.2)))


@pytest.mark.slow
def test_refreshes_while_the_campaign_runs(browser: Chromium, live, artifacts) -> None:
    built, dashboard = live
    browser.navigate(dashboard.url)
    browser.wait_for(READY)
    browser.evaluate("window.notReloaded = true")
    best_card = "document.querySelector('.stat a').textContent"
    assert float(browser.evaluate(best_card)) == BEST_VALUE
    # The "driver" finishes a running trial with a new best value.
    storage = optuna.storages.RDBStorage(sqlite_url(built.db_path))
    study = optuna.load_study(study_name="fixture", storage=storage)
    running = study.get_trials(states=(optuna.trial.TrialState.RUNNING,))[0]
    storage.set_trial_state_values(running._trial_id, optuna.trial.TrialState.COMPLETE, [0.001])
    browser.wait_for(f"{best_card} === '0.001'", timeout=30)
    assert browser.evaluate("window.notReloaded") is True
    browser.screenshot(artifacts / "live-refreshed.png")
    storage.engine.dispose()


def test_report_opens_offline(campaign, tmp_path, artifacts, chromium_path) -> None:
    out = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "hpsearch.cli", "report",
                           str(campaign.directory), "-o", str(out)],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.returncode == 0 and done.stdout.strip() == f"wrote {out}", done.stderr
    assert out.stat().st_mode & 0o077 == 0  # private, like the campaign database
    # No network at all: every request would go to a proxy that does not exist.
    with Chromium(extra_flags=["--proxy-server=127.0.0.1:9",
                               "--allow-file-access-from-files"]) as offline:
        offline.navigate(out.as_uri())
        offline.wait_for(READY)
        for view in PAGES:
            open_view(offline, view)
            assert plots_drawn(offline) == PAGES[view], view
            if view == "best":
                assert offline.evaluate(FIRST_ROW) == str(BEST_NUMBER)
        open_view(offline, "overview")
        offline.screenshot(artifacts / "report-overview.png")
        assert offline.console_errors == []
        assert all(url.startswith(("file:", "data:", "blob:")) for url in offline.requests), \
            offline.requests
