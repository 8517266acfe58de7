"""Time to hand out new trials with many trials running: one ask at a time vs `ask_batch`.

Builds an SQLite study with `--done` finished and `--running` RUNNING trials, copies it, and
on identical copies times (a) `study.ask` + suggest one trial at a time and (b) `ask_batch`
for the same number of new trials, both with the campaign's TPE sampler. Prints milliseconds
per new trial and the ratio.

    python benchmarks/ask_throughput.py [--running 1500] [--done 200] [--new 256]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import optuna

from hpsearch.samplers import ask_batch, make_sampler
from hpsearch.space import SearchSpace

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
    study = optuna.create_study(
        study_name="bench", storage=f"sqlite:///{path}", sampler=make_sampler("random", 0, 0)
    )
    dists = SPACE.distributions()
    for trial in ask_batch(study, n_done, dists):
        study.tell(trial.number, _objective(trial.params))
    ask_batch(study, n_running, dists)


def _load(path: Path) -> optuna.Study:
    return optuna.load_study(
        study_name="bench", storage=f"sqlite:///{path}", sampler=make_sampler("tpe", 1, 10)
    )


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

        for k in (16, args.new):
            path = Path(tmp) / f"batched{k}.db"
            shutil.copy(base, path)
            study = _load(path)
            start = time.perf_counter()
            trials = ask_batch(study, k, dists)
            per_trial = (time.perf_counter() - start) / k
            assert len(trials) == k
            rows.append((f"ask_batch(k={k})", k, per_trial))

    print(f"{args.done} finished + {args.running} running trials, SQLite, TPE, {SPACE.dimension}-D")
    print(f"{'method':<22}{'new trials':>11}{'ms/trial':>10}{'speed-up':>10}")
    for name, count, seconds in rows:
        print(f"{name:<22}{count:>11}{seconds * 1e3:>10.1f}{naive / seconds:>9.1f}x")


if __name__ == "__main__":
    main()
