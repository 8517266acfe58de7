"""The model-based samplers that take over from the Latin-hypercube design.

The LHS points are enqueued as WAITING trials; asking pops them with fixed parameters, which
never reach the sampler. They are ordinary trials once finished, so they count toward the
sampler's `n_startup_trials` (TPE counts COMPLETE and PRUNED trials, GP counts COMPLETE ones).
Passing the LHS size as `n_startup_trials` therefore means: the model proposes every point
once the design has completed; a point asked while the design is still running comes from
the sampler's random fallback.

`sampler = "auto"` (the campaign default) picks one of them from the space and the budget
(`choose_sampler`); `benchmarks/search_quality.py` is what the rule was decided on.
"""

from __future__ import annotations

import warnings

import optuna

from hpsearch.errors import UserError
from hpsearch.output_warp import WarpedGPSampler
from hpsearch.space import SearchSpace

__all__ = ["CAMPAIGN_SAMPLERS", "GP_MAX_TRIALS", "SAMPLER_KINDS", "choose_sampler",
           "make_sampler"]

SAMPLER_KINDS = ("tpe", "gp", "random")  # what `make_sampler` builds
CAMPAIGN_SAMPLERS = ("auto", *SAMPLER_KINDS)  # what a campaign file's `sampler` may name
# The largest trial budget "auto" gives the GP. Its proposals cost ~0.1-0.5 s of CPU each (one
# at a time, on an active set of at most a few hundred trials), which a campaign of a few
# hundred trials pays easily; beyond, TPE's batched asks keep thousands of workers busy.
GP_MAX_TRIALS = 500


def choose_sampler(space: SearchSpace, trials: int | None, n_objectives: int = 1) -> str:
    """The kind `sampler = "auto"` runs: "gp" for a single objective over an unconditional
    space with a trial budget of at most GP_MAX_TRIALS, else "tpe".

    In the search-quality benchmark (README) the GP beat TPE, DeepHyper's CBO and random
    search on most continuous and mixed test problems of 2-7 dimensions at 30-60 trials, at
    1 and at 8 trials in flight. TPE stays
    for budgets it was not measured at (none, or thousands of trials, where the scale
    targets need its batched asks), for conditional spaces (the GP samples inactive
    parameters at random) and for several objectives (not benchmarked)."""
    if trials is None or trials > GP_MAX_TRIALS or space.conditional or n_objectives > 1:
        return "tpe"
    return "gp"


def make_sampler(kind: str, seed: int | None, n_startup_trials: int, group: bool = False,
                 ) -> optuna.samplers.BaseSampler:
    """A seeded Optuna sampler of the given kind ("tpe", "gp" or "random").

    `group`: the space has conditional parameters (TPE models each set of active parameters
    apart; GP models the parameters every trial has and samples the others at random).
    Constraints need no option: TPE and GP read each trial's recorded constraint values."""
    if n_startup_trials < 0:
        raise UserError(f"sampler: n_startup_trials must be >= 0, got {n_startup_trials}")
    with warnings.catch_warnings():
        # `group` is marked experimental; the campaign file asked for it (`when`).
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _make(kind, seed, n_startup_trials, group)


def _make(kind: str, seed: int | None, n_startup_trials: int,
          group: bool) -> optuna.samplers.BaseSampler:
    if kind == "tpe":
        # Multivariate TPE models the interactions between hyperparameters; the constant
        # liar keeps trials in flight from being proposed again by the next asks.
        return optuna.samplers.TPESampler(
            n_startup_trials=n_startup_trials,
            seed=seed,
            multivariate=True,
            constant_liar=True,
            group=group,
        )
    if kind == "gp":
        # Every campaign parameter is always sampled, so the independent fallback only ever
        # happens before the first finished trial: no warning for it.
        # The values are warped before the fit (`output_warp`): in the search-quality
        # benchmark that alone lowered the median regret on 8 of 8 problems.
        return WarpedGPSampler(
            seed=seed,
            n_startup_trials=n_startup_trials,
            independent_sampler=optuna.samplers.RandomSampler(seed=seed),
            warn_independent_sampling=False,
        )
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise UserError(f"sampler: unknown sampler {kind!r}; choose one of {', '.join(SAMPLER_KINDS)}")
