"""The data behind every page, computed from the fixture campaign."""

from __future__ import annotations

import json
import sqlite3

import optuna
import pytest
from dashboard_campaign import BEST_NUMBER, BEST_VALUE, LOG_TRIAL, LOST, OOM, RETRY_OF

from hpsearch.dashboard import views
from hpsearch.dashboard.budget import parse_duration_s
from hpsearch.dashboard.campaign_reader import CampaignReader, read_only_url
from hpsearch.errors import UserError
from hpsearch.locate import locate_campaign


@pytest.fixture(scope="module")
def snap(campaign):
    return CampaignReader(locate_campaign(campaign.directory)).snapshot()


def test_overview_counts_best_and_budget(snap):
    o = views.overview(snap)
    assert o["counts"] == {"COMPLETE": 13, "PRUNED": 2, "FAIL": 3, "RUNNING": 2, "WAITING": 1}
    assert o["best"]["number"] == BEST_NUMBER and o["best"]["value"] == BEST_VALUE
    assert o["running"] is True
    assert o["campaign"] == "uresnet-fixture"
    # best so far never gets worse, and ends at the known best
    assert o["best_by_number"]["best"] == sorted(o["best_by_number"]["best"], reverse=True)
    assert o["best_by_time"]["best"][-1] == BEST_VALUE
    assert sum(sum(o["per_hour"][s]) for s in ("COMPLETE", "PRUNED", "FAIL")) == 18
    left = o["time_left"]
    assert left["trials_budget"] == 40 and left["trials_done"] == 17  # the retry is not counted
    assert left["trials_left"] == 23 and left["wall_budget_s"] == 12 * 3600
    assert 0 < left["time_left_s"] <= left["wall_left_s"]
    json.dumps(o, allow_nan=False)


def test_table_has_every_trial_params_and_metrics(snap):
    t = views.trial_table(snap)
    assert len(t["rows"]) == 21
    assert t["params"] == ["activation", "depth", "dropout", "lr"]
    assert t["metrics"] == ["accuracy", "images_per_s", "val_loss"]
    by_number = {r[0]: r for r in t["rows"]}
    assert by_number[BEST_NUMBER][1:3] == ["COMPLETE", BEST_VALUE]
    assert by_number[BEST_NUMBER][4] in ("nodeA.cluster", "nodeB.cluster")
    assert by_number[2][2] is None  # failed: no objective, never a magic number


def test_trial_detail(snap):
    d = views.trial_detail(snap, LOG_TRIAL)
    assert d["state"] == "RUNNING" and d["intermediate"]["step"] == [0, 1]
    assert d["threads"]["OMP_NUM_THREADS"] == "8"
    # the running trial's live log file, last 30 lines
    assert d["log_tail"].splitlines()[-1].startswith("epoch 39")
    assert len(d["log_tail"].splitlines()) == views.LOG_TAIL_LINES
    failed = views.trial_detail(snap, 2)
    assert failed["fail_reason"] == OOM and OOM in failed["log_tail"]
    assert views.trial_detail(snap, RETRY_OF)["retries"] == [17]
    assert views.trial_detail(snap, 999) is None


def test_failures_grouped_by_reason(snap):
    f = views.failures(snap)
    assert f["total"] == 3
    assert [(g["reason"], g["trials"]) for g in f["groups"]] == [(OOM, [2, 11]), (LOST, [6])]
    assert f["groups"][1]["retried"] == [[RETRY_OF, 17]]


def test_timeline_lanes_and_importance(snap):
    t = views.timeline(snap)
    assert t["lanes"] == ["nodeA/0", "nodeA/1", "nodeB/0", "nodeB/1"]
    assert sum(len(b["number"]) for b in t["bars"].values()) == 20  # the waiting one never ran
    assert max(t["concurrency"]["running"]) <= 4
    assert 0 < t["utilisation"] <= 1
    imp = views.importance(snap)
    assert set(imp["importances"]) == {"lr", "depth", "activation", "dropout"}
    assert len(imp["value"]) == 13 and all(len(a["values"]) == 13 for a in imp["axes"])


def test_storage_is_opened_read_only(campaign):
    location = locate_campaign(campaign.directory)
    url = read_only_url(location)
    assert "mode=ro" in url
    path = url.split("file:", 1)[1].split("?", 1)[0]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con, pytest.raises(
        sqlite3.OperationalError, match="readonly"
    ):
        con.execute("DELETE FROM trials")
    reader = CampaignReader(location)
    with pytest.raises(optuna.exceptions.StorageInternalError) as caught:
        reader._storage.set_study_user_attr(reader._study_id, "x", 1)
    assert "readonly" in str(caught.value.__cause__)


def test_not_a_campaign(tmp_path):
    (tmp_path / "campaign.db").write_bytes(b"")
    with pytest.raises(UserError):
        CampaignReader(locate_campaign(tmp_path))


@pytest.mark.parametrize("text, seconds", [
    ("12:00:00", 43200), ("90m", 5400), ("2h30m", 9000), (3600, 3600), ("1d", 86400),
    ("soon", None), (True, None),
])
def test_durations(text, seconds):
    assert parse_duration_s(text) == seconds
