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

Peers run one trial at a time (their best case); the campaign's methods run at every
`--in-flight` count. Regret = best value found - known minimum. Prints, per problem, the
median regret over seeds, quartiles, the ratio to the best peer's median and to random's,
then a summary against the target (<= best peer on >= 80 % of problems, never > 1.5x it,
<= 0.5x random everywhere).

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


def run_campaign(problem: Problem, budget: int, seed: int, in_flight: int,
                 sampler: str | None) -> float:
    """The driver's ask path: LHS enqueued, then `StudyView.ask` for every free slot."""
    kind, n_init = campaign_defaults(problem, budget, sampler)
    space = SearchSpace.from_mapping(problem.search_space)
    study = optuna.create_study(study_name="campaign")
    for i, point in enumerate(latin_hypercube(space, n_init, seed)):
        study.enqueue_trial(point, user_attrs={"source": "lhs", "lhs_index": i})
    view = StudyView(study._storage, "campaign", make_sampler(kind, seed, n_init))
    dists = space.distributions()
    durations = np.random.default_rng(seed + 7919)  # the simulated trials' run times
    running: list[tuple[float, Asked]] = []  # (end time, trial)
    now, asked = 0.0, 0
    while asked < budget or running:
        want = min(in_flight - len(running), budget - asked)
        if want > 0:
            for trial in view.ask(want, dists):
                running.append((now + float(durations.exponential()), trial))
            asked += want
        running.sort(key=lambda item: item[0])
        now, trial = running.pop(0)  # the first to end is told; its slot is asked again
        view.finish(trial.number, TrialState.COMPLETE, problem.objective(trial.params))
    best = view.best()
    assert best is not None and best.value is not None
    return best.value - problem.minimum


def run_plain_optuna(problem: Problem, budget: int,
                     sampler: optuna.samplers.BaseSampler) -> float:
    study = optuna.create_study(sampler=sampler)
    dists = SearchSpace.from_mapping(problem.search_space).distributions()
    for _ in range(budget):
        trial = study.ask(dists)
        study.tell(trial, problem.objective(trial.params))
    return study.best_value - problem.minimum


def run_deephyper(problem: Problem, budget: int, seed: int) -> float:
    from deephyper.hpo import CBO, HpProblem

    hp = HpProblem()
    for name, spec in problem.search_space.items():
        if spec["type"] == "categorical":
            hp.add_hyperparameter(list(spec["choices"]), name)
            continue
        cast = int if spec["type"] == "int" else float
        prior = "log-uniform" if spec.get("log") else "uniform"
        hp.add_hyperparameter((cast(spec["low"]), cast(spec["high"]), prior), name)
    best = float("inf")
    with tempfile.TemporaryDirectory() as log_dir:
        search = CBO(hp, random_state=seed, log_dir=log_dir, checkpoint_history_to_csv=False,
                     acq_optimizer=DEEPHYPER_ACQ_OPTIMIZER)
        for _ in range(budget):
            (config,) = search.ask(1)
            value = problem.objective(config)
            best = min(best, value)
            search.tell([(config, -value)])  # DeepHyper maximises
    return best - problem.minimum


def runner(method: str) -> Callable[[Problem, int, int], float]:
    name, _, parallel = method.partition("@")  # "default@8": 8 trials in flight
    in_flight = int(parallel or 1)
    if name in OURS:
        forced = None if name == "default" else name.removeprefix("lhs+")
        return lambda p, b, s: run_campaign(p, b, s, in_flight, forced)
    if name == "optuna-tpe":
        return lambda p, b, s: run_plain_optuna(p, b, optuna.samplers.TPESampler(seed=s))
    if name == "optuna-gp":
        return lambda p, b, s: run_plain_optuna(p, b, optuna.samplers.GPSampler(seed=s))
    if name == "random":
        return lambda p, b, s: run_plain_optuna(p, b, optuna.samplers.RandomSampler(seed=s))
    if name == "deephyper-cbo":
        return run_deephyper
    raise SystemExit(f"--methods: unknown method {method!r}; choose from "
                     f"{', '.join(OURS + PEERS + ('random',))} (ours take @N)")


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


def report(problems: list[str], methods: list[str], ours: list[str],
           regrets: dict[tuple[str, str], list[float]], cpu: dict[tuple[str, str], float],
           budgets: dict[str, int]) -> None:
    peers = [m for m in methods if m in PEERS]
    print(f"{'problem':<13}{'d':>3}{'budget':>7} {'method':<15}{'median':>10}{'q25':>10}"
          f"{'q75':>10}{'/best peer':>11}{'/random':>9}{'cpu s/run':>10}")
    ratios: dict[str, list[tuple[float, float]]] = {m: [] for m in ours}
    for name in problems:
        medians = {m: statistics.median(regrets[name, m]) for m in methods}
        best_peer = min((medians[m] for m in peers), default=float("nan"))
        for method in methods:
            values = sorted(regrets[name, method])
            q25, _, q75 = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
            to_peer = _ratio(medians[method], best_peer)
            to_random = _ratio(medians[method], medians.get("random", float("nan")))
            if method in ratios:
                ratios[method].append((to_peer, to_random))
            print(f"{name:<13}{PROBLEMS[name].dimension:>3}{budgets[name]:>7} {method:<15}"
                  f"{medians[method]:>10.4g}{q25:>10.4g}{q75:>10.4g}{to_peer:>11.2f}"
                  f"{to_random:>9.2f}{cpu[name, method]:>10.1f}")
    print("\ntarget: median <= best peer on >= 80 % of problems, never > 1.5x, <= 0.5x random")
    for method, pairs in ratios.items():
        wins = sum(p <= 1.0 for p, _ in pairs)
        worst = max(pairs, key=lambda pair: pair[0])
        print(f"{method:<15} <= best peer on {wins}/{len(pairs)} "
              f"({100 * wins / len(pairs):.0f} %); worst {worst[0]:.2f}x best peer; "
              f"worst {max(r for _, r in pairs):.2f}x random")


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
    parser.add_argument("--in-flight", default="1,8", help="trials in flight for our methods")
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
    methods: list[str] = []
    for method in args.methods.split(","):
        runner(method)  # unknown names fail here, before any run
        if method in OURS:
            methods += [method if n == 1 else f"{method}@{n}" for n in flights]
        else:
            methods.append(method)
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
          f"{scale:g}; peers one trial at a time; DeepHyper acq_optimizer "
          f"{DEEPHYPER_ACQ_OPTIMIZER}; {args.processes} processes, {wall / 60:.1f} min wall")
    ours = [m for m in methods if m.partition("@")[0] in OURS]
    report(problems, methods, ours, regrets, cpu, budgets)


if __name__ == "__main__":
    main()
