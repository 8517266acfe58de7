"""Time to hand out new trials with many trials running: one ask at a time vs the driver's.

Builds an SQLite study with `--done` finished and `--running` RUNNING trials, copies it, and
on identical copies times (a) `study.ask` + suggest one trial at a time and (b) what the
driver runs, `StudyView.ask(k)` (built once per driver run; its one-off read of the study is
printed separately), for the same number of new trials, both with the campaign's TPE
sampler. Prints milliseconds per new trial and the ratio.

    python benchmarks/ask_throughput.py [--running 1500] [--done 200] [--new 256]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from hpsearch.samplers import make_sampler
from hpsearch.space import SearchSpace
from hpsearch.storage import open_sqlite
from hpsearch.study_view import StudyView

SPACE = SearchSpace.from_mapping(
    {
        "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
        "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
        "depth": {"type": "int", "low": 2, "high": 6},
        "width": {"type": "int", "low": 8, "high": 64, "step": 8},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "optimizer": ["adam", "sgd", "adamw"],
    }
)


def _objective(params: dict) -> float:
    return abs(params["lr"] - 1e-3) + params["dropout"] + params["depth"] / 10


def _build(path: Path, n_done: int, n_running: int) -> None:
    storage = open_sqlite(path)
    optuna.create_study(study_name="bench", storage=storage)
    view = StudyView(storage, "bench", make_sampler("random", 0, 0))
    dists = SPACE.distributions()
    for trial in view.ask(n_done, dists):
        view.finish(trial.number, TrialState.COMPLETE, _objective(trial.params))
    view.ask(n_running, dists)
    storage.engine.dispose()  # the last connection closed: SQLite folds the WAL into the file


def _load(path: Path) -> optuna.Study:
    # The campaign's own storage settings (WAL, busy timeout) on both sides.
    return optuna.load_study(
        study_name="bench", storage=open_sqlite(path), sampler=make_sampler("tpe", 1, 10)
    )


def _view(path: Path) -> StudyView:
    return StudyView(open_sqlite(path), "bench", make_sampler("tpe", 1, 10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--running", type=int, default=1500)
    parser.add_argument("--done", type=int, default=200)
    parser.add_argument("--new", type=int, default=256, help="new trials to hand out")
    parser.add_argument("--naive", type=int, default=20, help="single asks to time (they are slow)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = SPACE.distributions()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.db"
        _build(base, args.done, args.running)
        rows = []

        path = Path(tmp) / "naive.db"
        shutil.copy(base, path)
        study = _load(path)
        start = time.perf_counter()
        for _ in range(args.naive):
            study.ask(dists)
        naive = (time.perf_counter() - start) / args.naive
        rows.append(("one ask at a time", args.naive, naive))

        reads = []
        for k in (16, args.new):
            path = Path(tmp) / f"batched{k}.db"
            shutil.copy(base, path)
            start = time.perf_counter()
            view = _view(path)
            reads.append(time.perf_counter() - start)
            start = time.perf_counter()
            trials = view.ask(k, dists)
            per_trial = (time.perf_counter() - start) / k
            assert len(trials) == k
            rows.append((f"StudyView.ask(k={k})", k, per_trial))

    print(f"{args.done} finished + {args.running} running trials, SQLite, TPE, {SPACE.dimension}-D")
    print(f"StudyView's one read of the study at driver start: "
          f"{', '.join(f'{r:.1f}' for r in reads)} s")
    print(f"{'method':<25}{'new trials':>11}{'ms/trial':>10}{'speed-up':>10}")
    for name, count, seconds in rows:
        print(f"{name:<25}{count:>11}{seconds * 1e3:>10.1f}{naive / seconds:>9.1f}x")


if __name__ == "__main__":
    main()
