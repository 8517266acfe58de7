"""Search quality: median final regret of the campaign's default against Optuna, DeepHyper.

Problems (`_test_functions.py`): 12 continuous test functions of 2-10 dimensions and 2 mixed
spaces (integer, log-scaled, categorical), each with its own budget (50-200 evaluations).
Methods, each with the same budget and the same seeds:

- default: what a campaign does when the file leaves `sampler` and `n_init` out: the
  campaign file is parsed for the problem's space and budget (`sampler = "auto"` resolved
  by `choose_sampler`), the Latin-hypercube design enqueued, then trials handed out by the
  driver's `StudyView.ask` and told as they finish. At 8 in flight (`default@8`) the driver
  keeps 8 trials running: each trial's duration is drawn at random (exponential, seeded), the
  first to end is told, and the freed slot asked again (asynchronous completion).
- lhs+tpe, lhs+gp: the same path with the sampler forced (`sampler = "tpe"` / `"gp"`).
- optuna-tpe, optuna-gp: plain Optuna (TPESampler / GPSampler with their own defaults),
  `study.ask`/`tell` one at a time. random: Optuna's RandomSampler.
- deephyper-cbo: DeepHyper 0.13.2's CBO (default extra-trees surrogate and UCBd acquisition,
  acquisition optimiser "sampling": its default "mixedga" takes ~8 s per step here).

Every method runs at every `--in-flight` count (default 1 and 8) and is compared with the
peers at the same count; random search runs once (its points do not depend on results).
Optuna's samplers see the running trials (TPE as its default, GP through q-EI); DeepHyper is
asked for as many points as slots are free. Regret = best value found - known minimum.
Prints, per problem, the median regret over seeds, quartiles, the ratio to the best peer's
median and to random's, then a summary against the target (<= best peer on >= 80 % of
problems, never > 1.5x it, <= 0.5x random everywhere).

    python benchmarks/search_quality.py           # 14 problems x 10 seeds, full budgets
    python benchmarks/search_quality.py --quick   # 8 problems, 3 seeds, 40 % budgets
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna

# `python benchmarks/search_quality.py` puts this folder first on the path.
from _test_functions import PROBLEMS, Problem
from optuna.trial import TrialState

from hpsearch.campaign import parse_campaign
from hpsearch.lhs import latin_hypercube
from hpsearch.samplers import make_sampler
from hpsearch.space import SearchSpace
from hpsearch.study_view import Asked, StudyView

OURS = ("default", "lhs+tpe", "lhs+gp")
PEERS = ("optuna-tpe", "optuna-gp", "deephyper-cbo")
METHODS = ("default", *PEERS, "random")
DEEPHYPER_ACQ_OPTIMIZER = "sampling"
# --quick: 8 of the 14 problems (one mixed space: their GP fits cost the most), 3 seeds, 40 %
# of each budget, to stay within ~15 min on 2 shared cores.
QUICK_PROBLEMS = ("branin", "camel6", "hartmann3", "levy4", "shekel10", "ackley5", "hartmann6",
                  "uresnet")


def campaign_defaults(problem: Problem, budget: int, sampler: str | None) -> tuple[str, int]:
    """(sampler kind, n_init) of a campaign file naming only the space and the budget."""
    table = {"objective": {"command": ["true", "{out}"]}, "search_space": problem.search_space,
             "budget": {"trials": budget}}
    if sampler is not None:
        table["sampler"] = sampler
    campaign = parse_campaign(table, default_name="bench", source_dir=Path("."))
    return campaign.sampler, campaign.n_init


def asynchronous(budget: int, in_flight: int, seed: int, ask: Callable[[int], list[Any]],
                 tell: Callable[[Any], None]) -> None:
    """`budget` trials, `in_flight` at a time: each trial's run time is drawn at random
    (exponential, seeded: the same for every method), the first to end is told and its slot
    asked again. One in flight is plain sequential ask/tell."""
    durations = np.random.default_rng(seed + 7919)
    running: list[tuple[float, int, Any]] = []  # (end time, order, trial)
    now, asked = 0.0, 0
    while asked < budget or running:
        want = min(in_flight - len(running), budget - asked)
        if want > 0:
            for trial in ask(want):
                running.append((now + float(durations.exponential()), asked, trial))
                asked += 1
        running.sort(key=lambda item: item[:2])
        now, _, trial = running.pop(0)
        tell(trial)


def run_campaign(problem: Problem, budget: int, seed: int, in_flight: int,
                 sampler: str | None) -> float:
    """The driver's ask path: LHS enqueued, then `StudyView.ask` for every free slot."""
    kind, n_init = campaign_defaults(problem, budget, sampler)
    space = SearchSpace.from_mapping(problem.search_space)
    study = optuna.create_study(study_name="campaign")
    for i, point in enumerate(latin_hypercube(space, n_init, seed)):
        study.enqueue_trial(point, user_attrs={"source": "lhs", "lhs_index": i})
    view = StudyView(study._storage, "campaign", make_sampler(kind, seed, n_init),
                     budget_trials=budget)
    dists = space.distributions()

    def tell(trial: Asked) -> None:
        view.finish(trial.number, TrialState.COMPLETE, problem.objective(trial.params))

    asynchronous(budget, in_flight, seed, lambda k: view.ask(k, dists), tell)
    best = view.best()
    assert best is not None and best.value is not None
    return best.value - problem.minimum


def run_plain_optuna(problem: Problem, budget: int, seed: int, in_flight: int,
                     sampler: optuna.samplers.BaseSampler) -> float:
    """Optuna's own `study.ask` per free slot (its samplers see the running trials)."""
    study = optuna.create_study(sampler=sampler)
    dists = SearchSpace.from_mapping(problem.search_space).distributions()

    def tell(trial: optuna.Trial) -> None:
        study.tell(trial, problem.objective(trial.params))

    asynchronous(budget, in_flight, seed, lambda k: [study.ask(dists) for _ in range(k)], tell)
    return study.best_value - problem.minimum


def run_deephyper(problem: Problem, budget: int, seed: int, in_flight: int) -> float:
    from deephyper.hpo import CBO, HpProblem

    hp = HpProblem()
    for name, spec in problem.search_space.items():
        if spec["type"] == "categorical":
            hp.add_hyperparameter(list(spec["choices"]), name)
            continue
        cast = int if spec["type"] == "int" else float
        prior = "log-uniform" if spec.get("log") else "uniform"
        hp.add_hyperparameter((cast(spec["low"]), cast(spec["high"]), prior), name)
    values: list[float] = []
    with tempfile.TemporaryDirectory() as log_dir:
        search = CBO(hp, random_state=seed, log_dir=log_dir, checkpoint_history_to_csv=False,
                     acq_optimizer=DEEPHYPER_ACQ_OPTIMIZER)

        def tell(config: dict[str, Any]) -> None:
            values.append(problem.objective(config))
            search.tell([(config, -values[-1])])  # DeepHyper maximises

        asynchronous(budget, in_flight, seed, search.ask, tell)
    return min(values) - problem.minimum


def runner(method: str) -> Callable[[Problem, int, int], float]:
    name, _, parallel = method.partition("@")  # "default@8": 8 trials in flight
    n = int(parallel or 1)
    if name in OURS:
        forced = None if name == "default" else name.removeprefix("lhs+")
        return lambda p, b, s: run_campaign(p, b, s, n, forced)
    if name == "optuna-tpe":
        return lambda p, b, s: run_plain_optuna(p, b, s, n, optuna.samplers.TPESampler(seed=s))
    if name == "optuna-gp":
        return lambda p, b, s: run_plain_optuna(p, b, s, n, optuna.samplers.GPSampler(seed=s))
    if name == "random":
        return lambda p, b, s: run_plain_optuna(p, b, s, n, optuna.samplers.RandomSampler(seed=s))
    if name == "deephyper-cbo":
        return lambda p, b, s: run_deephyper(p, b, s, n)
    raise SystemExit(f"--methods: unknown method {method!r}; choose from "
                     f"{', '.join(OURS + PEERS + ('random',))}")


Task = tuple[str, str, int, int]  # problem, method, budget, seed


def one(task: Task) -> tuple[Task, float, float]:
    problem, method, budget, seed = task
    start = time.process_time()
    regret = runner(method)(PROBLEMS[problem], budget, seed)
    return task, regret, time.process_time() - start


def quiet() -> None:
    import torch

    # One thread for the GP's torch work: the machines this runs on are shared, and
    # oversubscribed threads made each GP ask 2.5x slower.
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("deephyper").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def report(problems: list[str], methods: list[str],
           regrets: dict[tuple[str, str], list[float]], cpu: dict[tuple[str, str], float],
           budgets: dict[str, int]) -> None:
    """One row per problem and method; each method is compared with the best peer at the
    same number of trials in flight, and with random search."""
    def flight(method: str) -> str:
        return method.partition("@")[2] or "1"

    print(f"{'problem':<13}{'d':>3}{'budget':>7} {'method':<18}{'median':>10}{'q25':>10}"
          f"{'q75':>10}{'/best peer':>11}{'/random':>9}{'cpu s/run':>10}")
    ratios: dict[str, list[tuple[float, float]]] = {
        m: [] for m in methods if m.partition("@")[0] in OURS}
    for name in problems:
        medians = {m: statistics.median(regrets[name, m]) for m in methods}
        for method in methods:
            peers = [medians[m] for m in methods
                     if m.partition("@")[0] in PEERS and flight(m) == flight(method)]
            values = sorted(regrets[name, method])
            q25, _, q75 = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
            to_peer = _ratio(medians[method], min(peers, default=float("nan")))
            to_random = _ratio(medians[method], medians.get("random", float("nan")))
            if method in ratios:
                ratios[method].append((to_peer, to_random))
            print(f"{name:<13}{PROBLEMS[name].dimension:>3}{budgets[name]:>7} {method:<18}"
                  f"{medians[method]:>10.4g}{q25:>10.4g}{q75:>10.4g}{to_peer:>11.2f}"
                  f"{to_random:>9.2f}{cpu[name, method]:>10.1f}")
    print("\ntarget: median <= best peer (same trials in flight) on >= 80 % of problems, never "
          "> 1.5x, <= 0.5x random")
    for method, pairs in ratios.items():
        wins = sum(p <= 1.0 for p, _ in pairs)
        print(f"{method:<18} <= best peer on {wins}/{len(pairs)} "
              f"({100 * wins / len(pairs):.0f} %); worst {max(p for p, _ in pairs):.2f}x best "
              f"peer; worst {max(r for _, r in pairs):.2f}x random")


def _ratio(value: float, base: float) -> float:
    if base == 0.0:
        return 1.0 if value == 0.0 else float("inf")
    return value / base


def main() -> None:
    global DEEPHYPER_ACQ_OPTIMIZER
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="8 problems, 3 seeds, 40 %% of each budget (at least 30)")
    parser.add_argument("--seeds", type=int, help="default 10, --quick 3")
    parser.add_argument("--budget-scale", type=float, help="default 1, --quick 0.4")
    parser.add_argument("--in-flight", default="1,8",
                        help="trials in flight (every method, at each count)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"from {', '.join(OURS + PEERS)}, random")
    parser.add_argument("--problems", help="default all 14, --quick 8")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--deephyper-acq-optimizer", default=DEEPHYPER_ACQ_OPTIMIZER,
                        help='"sampling" (default here), "ga", or DeepHyper\'s "mixedga" (slow)')
    args = parser.parse_args()
    seeds = args.seeds or (3 if args.quick else 10)
    scale = args.budget_scale or (0.4 if args.quick else 1.0)
    DEEPHYPER_ACQ_OPTIMIZER = args.deephyper_acq_optimizer
    problems = (args.problems.split(",") if args.problems
                else list(QUICK_PROBLEMS if args.quick else PROBLEMS))
    for name in problems:
        if name not in PROBLEMS:
            raise SystemExit(f"--problems: unknown {name!r}; choose from {', '.join(PROBLEMS)}")
    flights = [int(n) for n in args.in_flight.split(",")]
    for method in args.methods.split(","):
        runner(method)  # unknown names fail here, before any run
    # Random search proposes the same points whatever is in flight: run once.
    methods = [m if n == 1 else f"{m}@{n}" for n in flights for m in args.methods.split(",")
               if n == 1 or m != "random"]
    if "random" in args.methods.split(",") and "random" not in methods:
        methods.append("random")
    budgets = {name: max(30, round(scale * PROBLEMS[name].budget)) for name in problems}
    tasks = [(name, method, budgets[name], seed)
             for name in problems for method in methods for seed in range(seeds)]

    start = time.perf_counter()
    regrets: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], float] = {}
    with multiprocessing.get_context("spawn").Pool(args.processes, initializer=quiet) as pool:
        for (name, method, _, _), regret, seconds in pool.imap_unordered(one, tasks):
            regrets.setdefault((name, method), []).append(regret)
            cpu[name, method] = cpu.get((name, method), 0.0) + seconds / seeds
            if len(regrets[name, method]) == seeds:
                print(f"  {name} {method}: median {statistics.median(regrets[name, method]):.4g}"
                      f" ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    wall = time.perf_counter() - start

    mode = "--quick: 8 of 14 problems" if args.quick else "full"
    print(f"search quality ({mode}): median final regret over {seeds} seeds, budget scale "
          f"{scale:g}; DeepHyper acq_optimizer "
          f"{DEEPHYPER_ACQ_OPTIMIZER}; {args.processes} processes, {wall / 60:.1f} min wall")
    report(problems, methods, regrets, cpu, budgets)


if __name__ == "__main__":
    main()
