"""Dashboard speed on a 10,000-trial campaign: data endpoints and first paint in Chromium.

    python benchmarks/dashboard.py [--trials 10000] [--workers 64] [--keep DIR]

Prints one table. Side by side in the same run: the dashboard's cached endpoint against
what a dashboard without the incremental cache would pay per request (Optuna reading the
whole study again, then the same table built from it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import optuna
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
)
from optuna.trial import TrialState, create_trial

from hpsearch.dashboard import views
from hpsearch.dashboard.campaign_reader import CampaignReader, Snapshot
from hpsearch.dashboard.chromium import Chromium, find_chromium
from hpsearch.dashboard.server import start_dashboard
from hpsearch.dashboard.table_encoder import TableEncoder
from hpsearch.locate import DB_FILENAME, locate_campaign, sqlite_url

DISTS = {
    "lr": FloatDistribution(1e-5, 1e-1, log=True),
    "weight_decay": FloatDistribution(1e-6, 1e-2, log=True),
    "depth": IntDistribution(2, 6),
    "width": IntDistribution(8, 64, step=8),
    "dropout": FloatDistribution(0.0, 0.5),
    "activation": CategoricalDistribution(["relu", "gelu", "silu"]),
}
REASONS = [
    "RuntimeError: CUDA out of memory",
    "worker lost (ManagerLost)",
    "ValueError: loss is NaN at epoch 3",
]


def build_study(directory: Path, n: int, workers: int, seed: int = 0) -> Path:
    """A campaign database of ``n`` trials in Optuna's schema, written in one transaction.

    Optuna's add_trial commits once per trial (minutes for 10,000 on a busy disk), so the
    study and its first trial are written by Optuna itself and the rest are copies of that
    trial's rows with other values; the result is then checked by reading it with Optuna.
    """
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / DB_FILENAME
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA journal_mode=WAL")
    study = optuna.create_study(study_name="bench", storage=sqlite_url(db))
    study.set_user_attr(
        "campaign", {"name": "bench-10k", "budget": {"trials": n + 2000, "wall_time": "48:00:00"}}
    )
    rng = random.Random(seed)
    t0 = datetime.now() - timedelta(hours=40)
    lane_free = [t0] * workers
    rows: dict[str, list[tuple]] = {k: [] for k in ("trials", "params", "values", "attrs", "inter")}
    n_running = min(workers, n // 50)
    for number in range(n):
        lane = min(range(workers), key=lane_free.__getitem__)
        start = lane_free[lane] + timedelta(seconds=rng.uniform(1, 20))
        length = timedelta(minutes=rng.uniform(5, 30))
        end = start + length
        lane_free[lane] = end
        running = number >= n - n_running
        r = rng.random()
        state = (
            "RUNNING" if running else "FAIL" if r < 0.05 else "PRUNED" if r < 0.12 else "COMPLETE"
        )
        params = {
            "lr": 10 ** rng.uniform(-5, -1),
            "weight_decay": 10 ** rng.uniform(-6, -2),
            "depth": rng.randint(2, 6),
            "width": rng.choice(range(8, 65, 8)),
            "dropout": rng.uniform(0, 0.5),
            "activation": rng.choice(["relu", "gelu", "silu"]),
        }
        value = abs(params["lr"] - 3e-3) * 50 + params["dropout"] * 0.2 + rng.gauss(0, 0.02) + 0.05
        tid = number + 2  # trial_id 1 is Optuna's own template trial below
        rows["trials"].append((tid, number + 1, state, start, None if running else end))
        for name, dist in DISTS.items():
            rows["params"].append(
                (tid, name, dist.to_internal_repr(params[name]), distribution_to_json(dist))
            )
        attrs = {
            "source": "sampler",
            "hostname": f"node{lane // 4:03d}",
            "worker": f"node{lane // 4:03d}/{lane % 4}",
            "threads": {
                "intra_op": 8,
                "inter_op": 1,
                "cpu_list": f"{(lane % 4) * 8}-{(lane % 4) * 8 + 7}",
            },
        }
        steps = 10 if state == "COMPLETE" else 3
        if state == "COMPLETE":
            rows["values"].append((tid, 0, value, "FINITE"))
            attrs["metrics"] = {
                "val_loss": value,
                "accuracy": 1 - value,
                "images_per_s": rng.uniform(100, 400),
            }
            attrs["wall_time_s"] = length.total_seconds()
        elif state == "FAIL":
            attrs["fail_reason"] = rng.choice(REASONS)
            attrs["log_tail"] = "\n".join(f"line {i}" for i in range(30))
        for step in range(steps):
            rows["inter"].append((tid, step, value + 0.5 * 0.6**step, "FINITE"))
        for key, val in attrs.items():
            rows["attrs"].append((tid, key, json.dumps(val)))
    # Optuna writes the first trial, so its rows show what every other row must look like.
    study.add_trial(
        create_trial(
            value=1.0, params=dict.fromkeys(["lr"], 1e-3), distributions={"lr": DISTS["lr"]}
        )
    )
    with sqlite3.connect(db) as con:
        con.executemany(
            "INSERT INTO trials (trial_id, number, study_id, state, datetime_start,"
            " datetime_complete) VALUES (?, ?, 1, ?, ?, ?)",
            [
                (t, nb, s, a.isoformat(sep=" "), b.isoformat(sep=" ") if b else None)
                for t, nb, s, a, b in rows["trials"]
            ],
        )
        con.executemany(
            "INSERT INTO trial_params (trial_id, param_name, param_value,"
            " distribution_json) VALUES (?, ?, ?, ?)",
            rows["params"],
        )
        con.executemany(
            "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, ?, ?, ?)",
            rows["values"],
        )
        con.executemany(
            "INSERT INTO trial_user_attributes (trial_id, key, value_json) VALUES (?, ?, ?)",
            rows["attrs"],
        )
        con.executemany(
            "INSERT INTO trial_intermediate_values (trial_id, step,"
            " intermediate_value, intermediate_value_type) VALUES (?, ?, ?, ?)",
            rows["inter"],
        )
    loaded = optuna.load_study(study_name="bench", storage=sqlite_url(db))
    trials = loaded.get_trials(deepcopy=False)
    assert len(trials) == n + 1 and trials[-1].number == n
    assert trials[5].params.keys() == DISTS.keys()
    assert sum(t.state == TrialState.RUNNING for t in trials) == n_running
    return directory


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    """Median wall time of ``repeat`` calls, in ms, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def get(url: str, token: str) -> bytes:
    req = urllib.request.Request(url, headers={"X-Hpsearch-Token": token})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read()


def uncached_table(location) -> bytes:
    """What a request costs without the incremental cache: Optuna re-reads the whole study."""
    study = optuna.load_study(study_name="bench", storage=location.url)
    trials = tuple(study.get_trials(deepcopy=False))
    snap = Snapshot("bench", ("minimize",), {}, trials, 0, datetime.now(), None)
    return json.dumps(views.trial_table(snap), allow_nan=False).encode()


def browser_timings(
    base: str, token: str, views_to_load: list[str]
) -> list[tuple[str, float, float]]:
    out = []
    with Chromium() as browser:
        browser.navigate(f"{base}?token={token}")  # sets the cookie; plotly.js now cached
        browser.wait_for("document.getElementById('view').dataset.ready === '1'", 120)
        for view in views_to_load:
            # A new query string: a full page load, not a jump within the page.
            browser.navigate(f"{base}?view={view}#{view}", timeout=120)
            browser.wait_for("document.getElementById('view').dataset.ready === '1'", 120)
            paint = browser.evaluate(
                "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
            )
            ready = browser.evaluate(
                f"performance.getEntriesByName('hpsearch-ready-{view}')[0].startTime"
            )
            out.append((view, paint, ready))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--keep", type=Path, help="build the campaign here and keep it")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    root = args.keep or Path(tempfile.mkdtemp(prefix="hpsearch-bench-"))
    directory = root / "campaign"
    t = time.perf_counter()
    reused = (directory / DB_FILENAME).exists()
    if not reused:
        build_study(directory, args.trials, args.workers)
    build = "reused" if reused else f"{time.perf_counter() - t:.1f} s"

    location = locate_campaign(directory)
    reader = CampaignReader(location, min_refresh_s=0.0)
    t = time.perf_counter()
    reader.snapshot()
    cold_ms = (time.perf_counter() - t) * 1000
    refresh_ms, _ = timed(lambda: reader.snapshot(max_age_s=0))
    t = time.perf_counter()
    reader._storage.get_all_trials(reader._study_id, deepcopy=False)
    orm_ms = (time.perf_counter() - t) * 1000
    uncached_ms, _ = timed(lambda: uncached_table(location), repeat=3)

    reader.min_refresh_s = 1.0
    dashboard = start_dashboard(reader)
    thread = threading.Thread(target=dashboard.serve_forever, daemon=True)
    thread.start()
    base, token = dashboard.base_url, dashboard.token
    rows: list[tuple[str, str, str]] = [
        ("build the study (bulk)", build, "setup, not the dashboard"),
        ("first full read (server start)", f"{cold_ms:.0f} ms",
         f"once per server, in the background; Optuna's ORM read {orm_ms:.0f} ms = "
         f"{orm_ms / cold_ms:.1f}x slower"),
        ("incremental refresh", f"{refresh_ms:.0f} ms", f"{args.workers} unfinished trials"),
    ]
    get(base + "api/importance", token)  # first fit: measured below as 'first'
    for name in ("summary", "trials", "timeline", "failures", "importance", "trial/42"):
        ms, body = timed(lambda name=name: get(base + "api/" + name, token))
        note = f"{len(body) / 1e6:.2f} MB"
        if name == "trials":
            note += f"; uncached {uncached_ms:.0f} ms = {uncached_ms / ms:.0f}x slower"
        rows.append((f"GET /api/{name}", f"{ms:.0f} ms", note))
    snap = reader.snapshot()
    full_ms, _ = timed(lambda: TableEncoder().encode(snap), repeat=3)
    encoder = TableEncoder()
    encoder.encode(snap)
    change_ms, _ = timed(lambda: encoder.encode(snap))
    rows.append(("trials table, all rows encoded", f"{full_ms:.0f} ms",
                 "first /api/trials of a server"))
    rows.append(("trials table after a change", f"{change_ms:.0f} ms",
                 f"what /api/trials costs once per change ({full_ms / change_ms:.1f}x less)"))
    imp_ms, _ = timed(lambda: views.importance(snap), repeat=1)
    rows.append(("importance fit (PED-ANOVA)", f"{imp_ms:.0f} ms",
                 "refit once complete trials grow ~2 %"))
    if find_chromium():
        for view, paint, ready in browser_timings(
            base, token, ["overview", "best", "importance", "timeline"]
        ):
            rows.append((f"page #{view}", f"paint {paint:.0f} ms", f"data shown at {ready:.0f} ms"))
    dashboard.shutdown()

    width = max(len(r[0]) for r in rows)
    load = os.getloadavg()[0]
    print(f"dashboard benchmark: {args.trials} trials, {args.workers} workers "
          f"({os.cpu_count()} cores, load average {load:.1f} at the end)")
    print(f"{'what':<{width}}  {'time':>16}  note")
    for what, value, note in rows:
        print(f"{what:<{width}}  {value:>16}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
