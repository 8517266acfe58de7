"""The data behind every page, computed from the fixture campaign."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

import optuna
import pytest
from dashboard_campaign import BEST_NUMBER, BEST_VALUE, LOG_TRIAL, LOST, OOM, RETRY_OF

from hpsearch.dashboard import views
from hpsearch.dashboard.budget import time_left
from hpsearch.dashboard.bulk_trials import read_all_trials
from hpsearch.dashboard.campaign_reader import CampaignReader, read_only_url
from hpsearch.dashboard.report import write_report
from hpsearch.dashboard.table_encoder import TableEncoder
from hpsearch.errors import UserError
from hpsearch.locate import locate_campaign, sqlite_url


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


def test_table_encoder_matches_the_table_and_reuses_finished_rows(snap):
    encoder = TableEncoder()
    assert json.loads(encoder.encode(snap)) == json.loads(json.dumps(views.trial_table(snap)))
    cached = dict(encoder._rows)
    assert len(cached) == 18  # finished trials only: running and waiting rows can change
    encoder.encode(snap)
    assert all(encoder._rows[k] is v for k, v in cached.items())


def test_long_series_are_thinned_but_keep_every_improvement():
    n = 3 * views.MAX_POINTS
    values = [1.0 / (1 + i % 500) + (0.0 if i % 997 else -i) for i in range(n)]
    best, series = None, {"number": [], "value": [], "best": []}
    for i, v in enumerate(values):
        best = v if best is None else min(best, v)
        series["number"].append(i)
        series["value"].append(v)
        series["best"].append(best)
    thin = views._thin_series(series)
    assert thin["total"] == n and len(thin["number"]) <= views.MAX_POINTS + 50
    changes = {i for i in range(1, n) if series["best"][i] != series["best"][i - 1]}
    assert changes <= set(thin["number"]) and thin["number"][-1] == n - 1


def test_bulk_first_read_equals_optunas_read(campaign):
    reader = CampaignReader(locate_campaign(campaign.directory))
    mine = read_all_trials(reader._storage, reader._study_id)
    theirs = reader._storage.get_all_trials(reader._study_id)
    assert mine == theirs and len(mine) == 21
    assert [t._trial_id for t in mine] == [t._trial_id for t in theirs]


def _trial(state, start, end, **attrs):
    trial = optuna.trial.create_trial(
        state=optuna.trial.TrialState[state], value=0.5 if state == "COMPLETE" else None,
        user_attrs=attrs)
    trial.datetime_start, trial.datetime_complete = start, end
    return trial


def test_time_left_reads_the_budget_the_campaign_stores(tmp_path):
    from hpsearch.campaign import Budget

    t0 = datetime(2026, 1, 1, 8, 0)
    stored = {"budget": Budget(trials=5, wall_time_s=5400).to_dict()}
    left = time_left(stored, (_trial("RUNNING", t0, None),), now=t0 + timedelta(minutes=30))
    assert left["trials_budget"] == 5 and left["wall_budget_s"] == 5400
    assert left["wall_left_s"] == 3600


def test_time_left_follows_the_current_run():
    t0 = datetime(2026, 1, 1, 8, 0)
    m = timedelta(minutes=1)
    campaign = {"budget": {"trials": 10, "wall_time": "02:00:00"}}
    first_run = (_trial("COMPLETE", t0, t0 + 10 * m),
                 _trial("FAIL", t0 + 10 * m, t0 + 60 * m, interrupted=True,
                        fail_reason="interrupted: walltime"))
    resumed = first_run + (_trial("RUNNING", t0 + 120 * m, None),)
    left = time_left(campaign, resumed, now=t0 + 150 * m)
    assert left["trials_done"] == 1 and left["trials_left"] == 9  # interrupted: not counted
    assert left["elapsed_s"] == 30 * 60 and left["wall_left_s"] == 90 * 60
    stopped = time_left(campaign, first_run, now=t0 + 150 * m)
    assert stopped["wall_left_s"] is None and stopped["time_left_s"] is None
    assert stopped["trials_left"] == 9


def test_a_campaign_without_trials_yet(tmp_path):
    db = tmp_path / "campaign.db"
    optuna.create_study(study_name="empty", storage=sqlite_url(db))
    reader = CampaignReader(locate_campaign(tmp_path))
    snap = reader.snapshot()
    for view in (views.overview, views.trial_table, views.importance, views.timeline,
                 views.failures):
        json.dumps(view(snap), allow_nan=False)
    assert views.overview(snap)["best"] is None
    out = write_report(reader, tmp_path / "r.html")
    assert out.stat().st_size > 1_000_000  # plotly.js inlined
