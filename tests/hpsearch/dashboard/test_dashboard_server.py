"""The web app over real HTTP: token, read-only, loopback, endpoints, CLI, a live writer."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from dashboard_campaign import BEST_NUMBER, build_campaign

from hpsearch.dashboard.app import TOKEN_HEADER
from hpsearch.dashboard.campaign_reader import CampaignReader
from hpsearch.dashboard.loopback import check_host, is_loopback
from hpsearch.errors import UserError
from hpsearch.locate import locate_campaign, sqlite_url

REPO = Path(__file__).resolve().parents[3]


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None,
          opener: urllib.request.OpenerDirector | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with (opener.open if opener else urllib.request.urlopen)(request, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def test_every_path_needs_the_token(dashboard):
    for path in ("", "api/summary", "api/trials", "api/trial/0", "static/dashboard.js",
                 "static/plotly.min.js", "api/trials.csv", "nowhere"):
        status, body, _ = fetch(dashboard.base_url + path)
        assert status == 401, path
    assert fetch(dashboard.base_url + "api/summary?token=wrong")[0] == 401
    assert fetch(dashboard.base_url + "api/summary", headers={TOKEN_HEADER: "x"})[0] == 401
    # a token of any characters is refused with 401, never an error page
    for odd in ("%C3%A9t%C3%A9", "%FF%FE", "%00", "t%C3%B6ken" * 50):
        assert fetch(dashboard.base_url + f"api/summary?token={odd}")[0] == 401, odd
    assert fetch(dashboard.base_url + "api/summary",
                 headers={"Authorization": "Bearer \u00e9t\u00e9".encode().decode("latin-1")}
                 )[0] == 401


def test_token_by_header_query_and_cookie(dashboard):
    status, body, _ = fetch(dashboard.base_url + "api/summary",
                            headers={"Authorization": f"Bearer {dashboard.token}"})
    assert status == 200 and json.loads(body)["best"]["number"] == BEST_NUMBER
    # ?token= once: a cookie, then the same page without the token in the address
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    status, body, headers = fetch(dashboard.url, opener=opener)
    assert status == 200 and b"<html" in body
    assert headers["Cache-Control"] == "no-store"
    status, body, _ = fetch(dashboard.base_url + "api/trials", opener=opener)
    assert status == 200 and len(json.loads(body)["rows"]) == 21
    status, body, headers = fetch(dashboard.base_url + "static/plotly.min.js", opener=opener)
    assert status == 200 and len(body) > 1_000_000
    assert fetch(dashboard.base_url + "api/trial/999", opener=opener)[0] == 404


def test_nothing_but_get(dashboard):
    auth = {TOKEN_HEADER: dashboard.token}
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert fetch(dashboard.base_url + "api/summary", method=method)[0] == 401
        assert fetch(dashboard.base_url + "api/summary", method=method, headers=auth)[0] == 405


def test_downloads(dashboard):
    auth = {TOKEN_HEADER: dashboard.token}
    status, body, headers = fetch(dashboard.base_url + "api/trials.csv", headers=auth)
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == 21 and "params_lr" in rows[0] and "metrics_accuracy" in rows[0]
    status, body, _ = fetch(dashboard.base_url + "api/trials.json", headers=auth)
    records = json.loads(body)
    assert {r["number"] for r in records} == set(range(21))
    assert next(r for r in records if r["number"] == BEST_NUMBER)["params"]["lr"] > 0


def test_non_loopback_host_is_refused():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    with pytest.raises(UserError, match="--allow-remote"):
        check_host("0.0.0.0", allow_remote=False)
    check_host("0.0.0.0", allow_remote=True)


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    """The commands as users run them: through the `hpsearch` CLI."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "hpsearch.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_cli_errors_are_one_line(campaign, tmp_path):
    proc = _cli("dashboard", str(campaign.directory), "--host", "0.0.0.0")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "--allow-remote" in err and len(err.splitlines()) == 1
    proc = _cli("report", str(tmp_path / "nothing"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and err.startswith("hpsearch: error: no campaign at")
    proc = _cli("report", str(campaign.directory), "-o", str(tmp_path / "no" / "r.html"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "does not exist" in err and len(err.splitlines()) == 1


def test_cli_serves_and_prints_the_url(campaign):
    proc = _cli("dashboard", str(campaign.directory), "--port", "0")
    try:
        line = ""
        deadline = time.monotonic() + 60
        while "token=" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        url = line.split()[-1]
        assert url.startswith("http://127.0.0.1:") and "?token=" in url
        status, body, _ = fetch(url.replace("/?token=", "/api/summary?token="))
        assert status == 200 and json.loads(body)["n_trials"] == 21
        assert fetch(url.split("?")[0])[0] == 401
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


WRITER = textwrap.dedent("""
    import sqlite3, sys, time
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    db, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    study = optuna.load_study(study_name="fixture", storage=url)
    raw = sqlite3.connect(db, isolation_level=None)
    print("ready", flush=True)
    for i in range(n):
        study.add_trial(create_trial(value=1.0 + i, params={"dropout": 0.1},
                                     distributions={"dropout": FloatDistribution(0.0, 0.5)}))
        if i % 10 == 0:
            # Hold the write lock a while, as a busy driver would: WAL readers go on.
            raw.execute("BEGIN IMMEDIATE")
            time.sleep(0.3)
            raw.execute("COMMIT")
""")


def test_reads_while_a_writer_writes(tmp_path):
    built = build_campaign(tmp_path / "campaign")
    n = 40
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    reader = CampaignReader(locate_campaign(built.directory), min_refresh_s=0.0)
    before = len(reader.snapshot().trials)
    writer = subprocess.Popen([sys.executable, str(script), str(built.db_path),
                               sqlite_url(built.db_path), str(n)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    seen = set()
    while writer.poll() is None:
        snap = reader.snapshot()  # raises UserError on "database is locked"
        seen.add(len(snap.trials))
    _, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    final = reader.snapshot()
    assert len(final.trials) == before + n
    assert len(seen) > 2  # the reader saw the study grow while it was being written
    with open(built.db_path, "rb") as f:
        assert f.read(20)[18:20] == b"\x02\x02"  # still WAL: the reader changed nothing
