"""A small campaign written straight with Optuna, shaped like the driver's (interfaces.md)."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from hpsearch.locate import DB_FILENAME, sqlite_url

DISTRIBUTIONS = {
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "depth": IntDistribution(2, 6),
    "activation": CategoricalDistribution(["relu", "gelu", "silu"]),
    "dropout": FloatDistribution(0.0, 0.5),
}
WORKERS = ["nodeA/0", "nodeA/1", "nodeB/0", "nodeB/1"]
OOM = "RuntimeError: CUDA out of memory while allocating 2.1 GiB"
LOST = "interrupted: worker lost, node nodeB stopped answering (ManagerLost)"
BEST_VALUE = 0.0421

# (state, objective or fail reason); index = trial number.
PLAN: list[tuple[str, object]] = [
    ("COMPLETE", 0.31), ("COMPLETE", 0.27), ("FAIL", OOM), ("COMPLETE", 0.22),
    ("PRUNED", None), ("COMPLETE", 0.18), ("FAIL", LOST), ("COMPLETE", BEST_VALUE),
    ("COMPLETE", 0.12), ("COMPLETE", 0.095), ("PRUNED", None), ("FAIL", OOM),
    ("COMPLETE", 0.081), ("COMPLETE", 0.15), ("COMPLETE", 0.066), ("COMPLETE", 0.2),
    ("COMPLETE", 0.071), ("COMPLETE", 0.09), ("RUNNING", None), ("RUNNING", None),
]
BEST_NUMBER = 7
RETRY_OF = 6  # the lost trial is retried with the same parameters as trial 17
LOG_TRIAL = 19  # a running trial with a live log file


@dataclass(frozen=True)
class FixtureCampaign:
    directory: Path
    db_path: Path
    best_number: int = BEST_NUMBER
    best_value: float = BEST_VALUE


def _wal(db_path: Path) -> None:
    with sqlite3.connect(db_path) as con:
        # A real driver keeps the file in WAL mode so readers never block it.
        con.execute("PRAGMA journal_mode=WAL")


def build_campaign(directory: Path, now: datetime | None = None) -> FixtureCampaign:
    directory.mkdir(parents=True, exist_ok=True)
    db_path = directory / DB_FILENAME
    _wal(db_path)
    now = now or datetime.now()
    t0 = now - timedelta(minutes=75)
    study = optuna.create_study(
        study_name="fixture", storage=sqlite_url(db_path), direction="minimize"
    )
    study.set_user_attr("campaign", {
        "name": "uresnet-fixture",
        "budget": {"trials": 40, "wall_time": "12:00:00"},
        "objective": {"metric": "val_loss", "direction": "minimize"},
    })
    study.set_user_attr("site", {"name": "local", "workers_per_node": 2})
    study.set_user_attr("hpsearch_version", "0.1.0")
    rng = random.Random(7)
    lane_free = {w: t0 for w in WORKERS}
    for number, (state, outcome) in enumerate(PLAN):
        worker = min(lane_free, key=lambda w: lane_free[w])
        start = lane_free[worker] + timedelta(minutes=1)
        minutes = rng.uniform(8, 20)
        end = start + timedelta(minutes=minutes)
        if state == "RUNNING":
            start = min(start, now - timedelta(minutes=rng.uniform(2, 5)))
        params = {
            "lr": 10 ** rng.uniform(-4, -1),
            "depth": rng.randint(2, 6),
            "activation": rng.choice(["relu", "gelu", "silu"]),
            "dropout": rng.uniform(0.0, 0.5),
        }
        attrs: dict[str, object] = {
            "source": "lhs" if number < 8 else "sampler",
            "hostname": worker.split("/")[0] + ".cluster",
            "worker": worker,
            "threads": {"intra_op": 8, "inter_op": 1, "OMP_NUM_THREADS": "8",
                        "KMP_AFFINITY": "granularity=fine,compact,1,0",
                        "cpu_list": "0-7" if worker.endswith("/0") else "8-15"},
            "trial_dir": str(directory / "trials" / str(number)),
        }
        if number < 8:
            attrs["lhs_index"] = number
        if number == 17:
            attrs["source"] = "retry"
            attrs["retry_of"] = RETRY_OF
        epochs = 5
        curve = {}
        final = outcome if isinstance(outcome, float) else rng.uniform(0.2, 0.4)
        for step in range(epochs):
            curve[step] = final + (0.5 - final) * (0.55 ** step)
        kwargs: dict[str, object] = {}
        if state == "COMPLETE":
            assert isinstance(outcome, float)
            kwargs["value"] = outcome
            attrs["metrics"] = {"val_loss": outcome, "accuracy": round(1 - outcome, 4),
                                "images_per_s": round(rng.uniform(200, 400), 1)}
            attrs["wall_time_s"] = minutes * 60
            attrs["peak_memory_mb"] = round(rng.uniform(900, 3000))
        elif state == "PRUNED":
            curve = {s: curve[s] + 0.2 for s in range(2)}
        elif state == "FAIL":
            curve = {0: curve[0]} if outcome == OOM else {}
            attrs["fail_reason"] = str(outcome)
            if outcome == LOST:
                attrs["interrupted"] = True  # infrastructure: retried, not a budget trial
            attrs["log_tail"] = f"epoch 0 loss 0.51\nTraceback (most recent call last):\n{outcome}"
        else:  # RUNNING
            curve = {s: curve[s] for s in range(2)}
        trial = create_trial(
            state=TrialState[state],
            params=params,
            distributions=DISTRIBUTIONS,
            user_attrs=attrs,
            intermediate_values=curve,
            **kwargs,  # type: ignore[arg-type]
        )
        trial.datetime_start = start
        trial.datetime_complete = None if state == "RUNNING" else end
        study.add_trial(trial)
        lane_free[worker] = now if state == "RUNNING" else end
    study.enqueue_trial({"lr": 0.01, "depth": 3, "activation": "relu", "dropout": 0.1})
    log = directory / "trials" / str(LOG_TRIAL) / "trial.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(f"epoch {i} step {i * 10} loss {0.5 - i * 0.01:.3f}\n"
                           for i in range(40)))
    return FixtureCampaign(directory=directory, db_path=db_path)
