"""Fixtures for the dashboard tests: a fixture campaign, a served dashboard, a browser."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from dashboard_campaign import FixtureCampaign, build_campaign

from hpsearch.dashboard.campaign_reader import CampaignReader
from hpsearch.dashboard.chromium import Chromium, find_chromium
from hpsearch.dashboard.server import Dashboard, start_dashboard
from hpsearch.locate import locate_campaign

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "dashboard"

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="session")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> FixtureCampaign:
    """Shared, never written after creation (tests that write build their own)."""
    return build_campaign(tmp_path_factory.mktemp("dashboard") / "campaign")


def serve(reader: CampaignReader) -> Iterator[Dashboard]:
    dashboard = start_dashboard(reader, port=0)
    thread = threading.Thread(target=dashboard.serve_forever, daemon=True)
    thread.start()
    try:
        yield dashboard
    finally:
        dashboard.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def dashboard(campaign: FixtureCampaign) -> Iterator[Dashboard]:
    yield from serve(CampaignReader(locate_campaign(campaign.directory)))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("chromium is not installed")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Chromium]:
    with Chromium() as b:
        yield b
